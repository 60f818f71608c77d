"""The API's one error shape, for every router's OpenAPI description.

Every 4xx body is ``{"error": {"code", "message", "details"?}}``; ``details``
is an object (field lists, refusal codes, validation errors under
``details.errors``) or absent. One schema, so the description and the
answers cannot drift apart (INT-3, SEC-ERR-1).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, StrictBool


class ErrorDetail(Schema):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


# Request types that take JSON as the OpenAPI description says, and nothing else:
# pydantic's lax mode would turn false into 0, "12" into 12 and 0 into 1970-01-01,
# so a request the description calls invalid would be accepted.
def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return value


def _json_text_date(value: Any) -> Any:
    if not isinstance(value, str | dt.date):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
JSON_INT = BeforeValidator(_json_integer)  # last in an Annotated, after Field(ge=, le=)
JsonBool = StrictBool
JsonDate = Annotated[dt.date, BeforeValidator(_json_text_date)]
