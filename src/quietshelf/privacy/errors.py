"""Domain errors of the privacy kernel."""

from __future__ import annotations

from quietshelf.core.errors import Conflict, InvalidInput, NotFound


class SubjectForgotten(Conflict):
    code = "subject_forgotten"


class UnknownConsentScope(InvalidInput):
    code = "unknown_consent_scope"


class ConsentNotActive(Conflict):
    code = "consent_not_active"


class PolicyVersionExists(Conflict):
    code = "policy_version_exists"


class SubjectNotFound(NotFound):
    code = "subject_not_found"
