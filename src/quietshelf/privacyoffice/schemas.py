"""In/Out schemas of the privacy office API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from ninja import Schema
from pydantic import StringConstraints

from quietshelf.patrons.schemas import ErrorOut  # noqa: F401 - the one error shape


class ExceptionOut(Schema):
    code: str
    blocking: bool
    message: str


class ErasurePreviewOut(Schema):
    patron_id: uuid.UUID
    blocked: bool
    exceptions: list[ExceptionOut]
    recipients: list[str]


class EraseIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
    case_id: uuid.UUID | None = None


class ErasureOut(Schema):
    patron_id: uuid.UUID
    case_id: uuid.UUID
    erased: bool
    kept: list[ExceptionOut]
    recipients: list[str]
    holds_cancelled: int


class CaseIn(Schema):
    kind: str
    channel: str
    patron_id: uuid.UUID | None = None
    details: Annotated[str, StringConstraints(max_length=4000)] = ""
    received_on: dt.date | None = None


class CaseOut(Schema):
    id: uuid.UUID
    kind: str
    channel: str
    status: str
    patron_id: uuid.UUID | None
    received_on: dt.date
    due_on: dt.date
    urgency: str
    identity_method: str
    recipients_told: list[str]


class IdentityIn(Schema):
    method: str


class CloseIn(Schema):
    status: str
    note: Annotated[str, StringConstraints(max_length=4000)] = ""


class CanarySignIn(Schema):
    valid_days: int


class CanaryOut(Schema):
    text: str
    signed_at: dt.datetime
    valid_until: dt.date
    stale: bool
    signature_valid: bool
    signature_hex: str
    public_key_hex: str
    public_key_pem: str


class GovRequestIn(Schema):
    kind: str
    agency: Annotated[str, StringConstraints(max_length=200)]
    agency_reference: Annotated[str, StringConstraints(max_length=100)] = ""
    received_on: dt.date | None = None
    patron_id: uuid.UUID | None = None
    scope: Annotated[str, StringConstraints(max_length=4000)] = ""
    gag_until: dt.date | None = None
    gag_indefinite: bool = False


class GovRequestOut(Schema):
    id: uuid.UUID
    kind: str
    agency: str
    status: str
    received_on: dt.date
    checklist_complete: bool
    gag_until: dt.date | None
    gag_indefinite: bool
    notify_due_on: dt.date | None
    patron_notified_on: dt.date | None


class ChecklistIn(Schema):
    court_competent: bool
    good_cause: bool
    proper_form: bool
    scope_limited: bool


class ReleaseIn(Schema):
    code: Annotated[str, StringConstraints(max_length=20)]
    categories: list[str]


class DisclosureOut(Schema):
    record_type: str
    record_id: str
    released_at: dt.datetime


class BreachIn(Schema):
    title: Annotated[str, StringConstraints(max_length=200)]
    what_happened: Annotated[str, StringConstraints(max_length=4000)]
    discovered_at: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime
    data_categories: list[str]
    branch_ids: list[int] = []
    systems: list[str] = []


class BreachOut(Schema):
    id: uuid.UUID
    title: str
    status: str
    discovered_at: dt.datetime
    deadline: dt.datetime
    hours_left: float
    authority_notified_at: dt.datetime | None
    affected: int
    notice_reviewed: bool
    notices_queued: int | None


class BreachNoticeIn(Schema):
    headline: Annotated[str, StringConstraints(max_length=200)]
    text: Annotated[str, StringConstraints(max_length=4000)]


class BreachSendOut(Schema):
    affected: int
    queued: int
    message: str


class RestrictionOut(Schema):
    patron_id: uuid.UUID
    restricted: bool
    lift_on: dt.date | None


class RestrictionLiftIn(Schema):
    lift_on: dt.date


class ObjectionIn(Schema):
    processing: str
    channel: str
    patron_id: uuid.UUID | None = None
    details: Annotated[str, StringConstraints(max_length=4000)] = ""


class GuardianConsentIn(Schema):
    guardian_id: uuid.UUID


class GuardianRequestIn(Schema):
    minor_id: uuid.UUID
    guardian_id: uuid.UUID
    kind: str
    channel: str


class PatronStatusOut(Schema):
    patron_id: uuid.UUID
    status: str
