"""Structured JSON logs, one line per event outcome, with phone numbers and emails masked (E5).

Secrets never reach a log line: clients don't log requests, and this module masks anything
that looks like a phone number or an email in the values it is given, as a second guard.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from bridge.phones import mask, mask_email

log = logging.getLogger("zkbridge")
_PHONE = re.compile(r"\+\d{7,15}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def scrub(text: str) -> str:
    """Mask phone numbers and emails inside free text."""
    text = _PHONE.sub(lambda m: mask(m.group(0)), text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


def log_outcome(ref: str, source: str, decision: str, **fields: Any) -> None:
    record = {"event": ref, "source": source, "decision": decision}
    for k, v in fields.items():
        if isinstance(v, float):
            v = round(v, 4)
        record[k] = scrub(v) if isinstance(v, str) else v
    log.info("outcome", extra={"fields": record})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname,
                               "logger": record.name, "msg": scrub(record.getMessage())}
        doc.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            doc["exc"] = scrub(self.formatException(record.exc_info))[-2000:]
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for our logger (workers and receiver call this once)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


