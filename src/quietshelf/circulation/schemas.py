"""In/Out schemas of the circulation API. Barcodes travel in bodies, never in URLs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from ninja import Schema
from pydantic import StringConstraints

Barcode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class ErrorDetail(Schema):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class CheckoutIn(Schema):
    item_barcode: Barcode
    patron_id: uuid.UUID | None = None
    patron_barcode: Barcode | None = None  # a card number, for self-check machines
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
    patron_id: uuid.UUID
    record_id: int | None = None
    item_barcode: Barcode | None = None
    pickup_branch_id: int


class HoldOut(Schema):
    id: uuid.UUID
    record_id: int
    status: str
    pickup_branch_id: int
    queue_position: int | None


class PaymentIn(Schema):
    amount_minor: int


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
