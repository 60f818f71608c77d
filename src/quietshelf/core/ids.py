"""Identifiers as the apps pass them around."""

from __future__ import annotations

import uuid


def as_uuid(value) -> uuid.UUID:
    """A UUID from a UUID, its string or its hex form (SQLite returns the hex)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
