"""In/Out schemas of the circulation API. Barcodes travel in bodies, never in URLs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

from quietshelf.core.schemas import (  # noqa: F401  (one error shape)
    JSON_INT,
    ErrorDetail,
    ErrorOut,
    JsonBool,
    JsonDate,
    JsonInt,
)

Barcode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class CheckoutIn(Schema):
    """The patron by id or by card number (one of the two, never null)."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["patron_id"]}, {"required": ["patron_barcode"]}]}
    )

    item_barcode: Barcode
    patron_id: uuid.UUID = None
    patron_barcode: Barcode = None  # a card number, for self-check machines
    branch_id: int
    override_reason: Reason | None = None


class CheckoutOut(Schema):
    loan_id: uuid.UUID
    item_barcode: str
    title: str
    due_at: dt.datetime
    rule_id: int
    rule_why: str
    overridden: list[str]
    hold_filled: bool


class CheckinIn(Schema):
    item_barcode: Barcode
    branch_id: int


class CheckinOut(Schema):
    item_barcode: str
    title: str
    loan_closed: bool
    route: str
    to_branch: str | None
    message: str
    fine_minor: int
    fee_id: uuid.UUID | None
    hold_id: uuid.UUID | None
    shelf_expires_on: dt.date | None


class RenewIn(Schema):
    loan_id: uuid.UUID
    override_reason: Reason | None = None


class RenewOut(Schema):
    loan_id: uuid.UUID
    due_at: dt.datetime
    renewals_left: int


class ExplainIn(Schema):
    patron_group_id: int | None = None
    item_type_id: int
    branch_id: int


class ExplainOut(Schema):
    rule_id: int
    why: str
    loan_period: int
    period_unit: str
    renewals_allowed: int


class HoldIn(Schema):
    """A hold on a record, or on the record of an item (one of the two, never null)."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["record_id"]}, {"required": ["item_barcode"]}]}
    )

    patron_id: uuid.UUID
    record_id: int = None
    item_barcode: Barcode = None
    pickup_branch_id: int


class HoldOut(Schema):
    id: uuid.UUID
    record_id: int
    status: str
    pickup_branch_id: int
    queue_position: int | None


class PaymentIn(Schema):
    amount_minor: JsonInt


class FeeTxOut(Schema):
    fee_id: uuid.UUID
    kind: str
    amount_minor: int
    balance_minor: int


class MyLoanOut(Schema):
    loan_id: uuid.UUID
    title: str
    item_barcode: str
    due_at: dt.datetime
    renewals: int


class MyHoldIn(Schema):
    record_id: int
    pickup_branch_id: int


class MyFeeOut(Schema):
    fee_id: uuid.UUID
    type: str
    title: str | None
    balance_minor: int
    currency: str


class HistoryOut(Schema):
    record_id: int | None
    title: str
    borrowed: dt.date | None
    returned: dt.date | None


# --- loan rules and calendars (CIR-1; staff with circulation.manage_rules) -------------------

# (constraints before the validator, so OpenAPI says minimum/maximum)
NonNegative = Annotated[int, Field(ge=0, le=2_147_483_647), JSON_INT]
Positive = Annotated[int, Field(ge=1, le=2_147_483_647), JSON_INT]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class _Strict(Schema):
    # an unknown field is a mistake the caller should hear about, not silently dropped
    model_config = ConfigDict(extra="forbid")


class RuleFields(_Strict):
    """Every field is optional: on create the model's default applies, on update the
    value stays. null clears a limit (renewal_period, max_loans, max_loans_per_type,
    hold_limit, max_fine_minor: null means "none"); the other fields are never null,
    and the OpenAPI description says so."""

    loan_period: Positive = None  # optional, never null
    period_unit: Literal["days", "hours"] = None  # optional, never null
    renewals_allowed: NonNegative = None  # optional, never null
    renewal_period: Positive | None = None
    no_renewal_before_days: NonNegative | None = None
    max_loans: NonNegative | None = None
    max_loans_per_type: NonNegative | None = None
    holds_allowed: JsonBool = None  # optional, never null
    hold_limit: NonNegative | None = None
    fine_per_day_minor: NonNegative = None  # optional, never null
    grace_days: NonNegative = None  # optional, never null
    max_fine_minor: NonNegative | None = None
    fines_open_days_only: JsonBool = None  # optional, never null
    lost_fee_policy: Literal["price", "default"] = None  # optional, never null
    lost_default_minor: NonNegative = None  # optional, never null
    processing_fee_minor: NonNegative = None  # optional, never null
    note: Note = None  # optional, never null


class RuleIn(RuleFields):
    """A new cell of the matrix; a missing (or null) dimension is a wildcard."""

    patron_group_id: int | None = None
    item_type_id: int | None = None
    branch_id: int | None = None


class RuleOut(Schema):
    id: int
    patron_group_id: int | None
    item_type_id: int | None
    branch_id: int | None
    loan_period: int
    period_unit: str
    renewals_allowed: int
    renewal_period: int | None
    no_renewal_before_days: int | None = None
    max_loans: int | None
    max_loans_per_type: int | None
    holds_allowed: bool
    hold_limit: int | None
    fine_per_day_minor: int
    grace_days: int
    max_fine_minor: int | None
    fines_open_days_only: bool
    lost_fee_policy: str
    lost_default_minor: int
    processing_fee_minor: int
    note: str


class CalendarIn(_Strict):
    closed_weekdays: list[Annotated[int, Field(ge=1, le=7), JSON_INT]] = Field(
        default_factory=list, max_length=7
    )
    opens: dt.time | None = None
    closes: dt.time | None = None


class ClosedPeriodIn(_Strict):
    first: JsonDate
    last: JsonDate | None = None
    note: Note = ""


class ClosedPeriodOut(Schema):
    id: int
    branch_id: int
    first: dt.date
    last: dt.date
    note: str


class CalendarOut(Schema):
    branch_id: int
    closed_weekdays: list[int]
    opens: dt.time | None
    closes: dt.time | None
    closed_periods: list[ClosedPeriodOut]
