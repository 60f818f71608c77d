"""Domain errors of the privacy office."""

from __future__ import annotations

from quietshelf.core.errors import Conflict, NotFound


class AlreadyErased(Conflict):
    code = "already_erased"


class ErasureRefused(Conflict):
    """An exception that blocks erasure (a loan out, unpaid fees while the rule is "wait")."""

    code = "erasure_refused"


class AlreadyRequested(Conflict):
    code = "already_requested"


class CaseNotFound(NotFound):
    code = "case_not_found"


class CaseClosed(Conflict):
    code = "case_closed"
