"""Seams the catalogue offers to the apps above it (DESIGN.md "Layers").

The catalogue never imports those apps; they register a function here from
their AppConfig.ready(), and the catalogue calls it. The OAI-PMH provider
(interop) keeps a tombstone of every deleted record this way (INT-3).
"""

from __future__ import annotations

from collections.abc import Callable

# fn(record: BibRecord, branch_codes: list[str]) -> None. Called by record_delete
# inside its transaction, before the record's rows go, so a failing hook
# leaves the record in place.
RECORD_DELETED_HOOKS: list[Callable] = []


def register_record_deleted(hook: Callable) -> Callable:
    if hook not in RECORD_DELETED_HOOKS:
        RECORD_DELETED_HOOKS.append(hook)
    return hook


def record_deleted(record, branch_codes: list[str]) -> None:
    for hook in list(RECORD_DELETED_HOOKS):
        hook(record, branch_codes)
