"""Domain errors of the patron register."""

from __future__ import annotations

from quietshelf.core.errors import Conflict, DomainError, InvalidInput, NotFound


class PatronNotFound(NotFound):
    code = "patron_not_found"


class DuplicateBarcode(Conflict):
    code = "duplicate_barcode"


class DuplicateIdentifier(Conflict):
    code = "duplicate_identifier"


class NoteNeedsConfirmation(DomainError):
    """PAT-2: the note looks like special-category data; save again with confirmed=True."""

    code = "note_needs_confirmation"
    status_hint = 409


class MissingRequired(InvalidInput):
    code = "missing_required"
