"""Reading values out of vendor JSON that may hold anything (a signed but malformed payload,
a field a vendor left out): each helper answers the type asked for or an empty value, never an
exception. One meaning per name, used by payloads/ and the metric rules alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ID_RANGE = (-2**63, 2**63)     # Zendesk ids are 64-bit


def as_id(value: Any) -> int | None:
    """An id as a vendor sends it (string or number) -> int; None for anything else, including
    numbers outside 64-bit ids (inf, 1e400, 400-digit strings)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):   # OverflowError: inf
        return None
    return number if ID_RANGE[0] <= number < ID_RANGE[1] else None


def as_obj(value: Any) -> dict[str, Any]:
    """A nested object, or {} when the payload holds something else there."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_moment(attributes: dict[str, Any]) -> datetime | None:
    """When a Klaviyo event happened: its ISO `datetime`, else its epoch `timestamp`; None when
    neither is usable (webhook items and Events API resources carry the same attributes)."""
    raw = attributes.get("datetime")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    ts = attributes.get("timestamp")
    if isinstance(ts, int | float):
        try:
            return datetime.fromtimestamp(ts, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return None
