"""In/Out schemas of the staff patron API (django-ninja / pydantic)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

from quietshelf.core.schemas import ErrorDetail, ErrorOut  # noqa: F401  (one error shape)
from quietshelf.patrons.models import (
    BlockReason,
    ContactKind,
    ContactLabel,
    IdentifierType,
    Language,
    NotificationChannel,
    PatronStatus,
)

NameText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Barcode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Status = Literal[tuple(PatronStatus.values)]  # type: ignore[valid-type]
Lang = Literal[tuple(["", *Language.values])]  # type: ignore[valid-type]
Channel = Literal[tuple(NotificationChannel.values)]  # type: ignore[valid-type]
IdType = Literal[tuple(IdentifierType.values)]  # type: ignore[valid-type]
Reason = Literal[tuple(c for c in BlockReason.values if c != "expired")]  # type: ignore[valid-type]
Kind = Literal[tuple(ContactKind.values)]  # type: ignore[valid-type]
Label = Literal[tuple(ContactLabel.values)]  # type: ignore[valid-type]


class SearchIn(Schema):
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: Literal["any", "barcode", "email", "identifier", "name"] = "any"
    limit: int = Field(50, ge=1, le=200)


class PatronSummary(Schema):
    id: uuid.UUID
    name: str
    group: str | None = None
    home_branch: str | None = None
    status: str
    expiry_date: dt.date | None = None
    card: str | None = None


class IdentifierIn(Schema):
    type: IdType
    value: Short


class CardOut(Schema):
    id: uuid.UUID
    barcode: str
    active: bool
    issued_at: dt.datetime
    replaced_at: dt.datetime | None = None


class IdentifierOut(Schema):
    id: uuid.UUID
    type: str
    value: str


class ContactOut(Schema):
    id: uuid.UUID
    kind: str
    label: str
    value: str
    preferred: bool


class BlockOut(Schema):
    id: uuid.UUID
    reason_code: str
    comment: str | None = None
    expires_on: dt.date | None = None
    created_at: dt.datetime
    lifted_at: dt.datetime | None = None
    lift_reason: str | None = None
    in_force: bool


class EffectiveBlockOut(Schema):
    code: str
    label: str
    automatic: bool
    block_id: uuid.UUID | None = None


class NoteOut(Schema):
    id: uuid.UUID
    text: str
    created_at: dt.datetime
    warning_confirmed: bool


class PatronOut(Schema):
    id: uuid.UUID
    given_name: str | None = None
    family_name: str | None = None
    group: str | None = None
    home_branch: str | None = None
    status: str
    expiry_date: dt.date | None = None
    erase_after: dt.date | None = None
    preferred_language: str
    notification_channel: str
    date_of_birth: dt.date | None = None
    is_minor: bool
    created_at: dt.datetime
    cards: list[CardOut]
    identifiers: list[IdentifierOut]
    contacts: list[ContactOut]
    notes: list[NoteOut]
    blocks: list[BlockOut]
    effective_blocks: list[EffectiveBlockOut]


class PatronIn(Schema):
    given_name: NameText = ""
    family_name: NameText = ""
    barcode: Barcode = ""
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)
    group: Code = ""
    home_branch: Code = ""
    email: Short = ""
    phone: Short = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    date_of_birth: dt.date | None = None
    preferred_language: Lang = ""
    notification_channel: Channel = "email"
    expiry_date: dt.date | None = None
    erase_after: dt.date | None = None
    status: Status = "active"


class PatronPatch(Schema):
    # At least one field: an empty change is refused (400 "Nothing to change.").
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    given_name: NameText | None = None
    family_name: NameText | None = None
    group: Code | None = None
    home_branch: Code | None = None
    status: Status | None = None
    expiry_date: dt.date | None = None
    erase_after: dt.date | None = None
    preferred_language: Lang | None = None
    notification_channel: Channel | None = None
    date_of_birth: dt.date | None = None
    email: Short | None = None
    phone: Short | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class BlockIn(Schema):
    reason_code: Reason
    comment: Text = ""
    expires_on: dt.date | None = None


class LiftIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class OverrideIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    block_id: uuid.UUID | None = None
    code: Code = ""


class CardIn(Schema):
    barcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class NoteIn(Schema):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    confirmed: bool = False


class LoadIn(Schema):
    mapping_name: Short = ""
    mapping: dict | None = None
    rows: list[dict] = Field(default_factory=list, max_length=50_000)
    dry_run: bool = False


class LoadRowOut(Schema):
    row: int
    status: str
    message: str
    patron_id: uuid.UUID | None = None


class LoadOut(Schema):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: int
    results: list[LoadRowOut]
