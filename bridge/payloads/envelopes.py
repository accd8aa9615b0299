"""Split a verified webhook delivery into its events, or say exactly what is wrong with it (E4).

The receiver keeps each event under its own id, so this is the only place that knows how the
two vendors wrap events: Klaviyo batches up to 1000 under `data`, Zendesk sends one per call.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bridge.domain.model import RawEvent

MAX_EVENTS_PER_DELIVERY = 1000
MAX_ID_LENGTH = 200
# Event ids become Redis keys, log fields and lines a person reads in a terminal (`zkbridge
# failed list`): letters, digits and a few separators only, so no id can carry an escape
# sequence, a space or a line break.
SAFE_ID = re.compile(rf"[A-Za-z0-9_.:~+=/@-]{{1,{MAX_ID_LENGTH}}}")
SAFE_ID_WORDS = "letters, digits and . _ : ~ + = / @ -"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class EnvelopeError(ValueError):
    """A malformed delivery; the message names the problem for the 400 body."""


def _load(body: bytes) -> Any:
    try:
        doc = json.loads(body)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise EnvelopeError(f"body is not valid JSON: {e}") from e
    except RecursionError as e:
        raise EnvelopeError("body is not valid JSON: nested too deeply") from e
    # json.loads accepts "\ud800" escapes that are not text; such a string cannot become a Redis
    # key or value later. Checked only when the body holds a surrogate escape at all.
    if _SURROGATE_ESCAPE.search(body):
        try:
            json.dumps(doc, ensure_ascii=False).encode()
        except UnicodeEncodeError as e:
            raise EnvelopeError("body is not valid JSON: it holds an unpaired UTF-16 "
                                "surrogate escape (\\ud800-\\udfff)") from e
    return doc


def _event_id(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise EnvelopeError(f"{where} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise EnvelopeError(f"{where} is not a valid event id: longer than {MAX_ID_LENGTH} "
                            f"characters")
    if not SAFE_ID.fullmatch(value):
        raise EnvelopeError(f"{where} is not a valid event id: it may hold only "
                            f"{SAFE_ID_WORDS}")
    return value


def split_klaviyo(body: bytes) -> list[RawEvent]:
    """`{"data": [{"topic", "payload": {"id", ...}}, ...]}` -> events, in delivery order."""
    doc = _load(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise EnvelopeError("expected a JSON object with a 'data' list of events")
    items = doc["data"]
    if not items:
        raise EnvelopeError("'data' holds no events")
    if len(items) > MAX_EVENTS_PER_DELIVERY:
        raise EnvelopeError(f"'data' holds {len(items)} events; at most "
                            f"{MAX_EVENTS_PER_DELIVERY} per delivery")
    events = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise EnvelopeError(f"data[{i}] must be an object")
        payload = item.get("payload")
        if not isinstance(payload, dict):
            raise EnvelopeError(f"data[{i}].payload must be an object")
        topic = item.get("topic")
        if not isinstance(topic, str) or not topic:
            raise EnvelopeError(f"data[{i}].topic must be a non-empty string")
        event_id = _event_id(payload.get("id") or item.get("external_id"), f"data[{i}].payload.id")
        events.append(RawEvent("klaviyo", event_id, topic, item))
    return events


def split_zendesk(body: bytes) -> list[RawEvent]:
    """One event-subscription payload `{"id", "type", "detail", "event", ...}` -> one event."""
    doc = _load(body)
    if not isinstance(doc, dict):
        raise EnvelopeError("expected a JSON object (a Zendesk event-subscription payload)")
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        raise EnvelopeError("'type' must be a non-empty string such as "
                            "'zen:event-type:ticket.created'")
    if not isinstance(doc.get("detail"), dict):
        raise EnvelopeError("'detail' must be an object")
    return [RawEvent("zendesk", _event_id(doc.get("id"), "'id'"), kind, doc)]
