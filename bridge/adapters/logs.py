"""Structured JSON logs, one line per event outcome, with phone numbers and emails masked (E5).

Secrets never reach a log line: clients don't log requests, and this module masks anything
that looks like a phone number or an email in the values it is given, as a second guard.
`ScrubFilter` is that guard for lines other libraries write (Celery, gunicorn, Flask), and also
blanks the credentials the process holds.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bridge.domain.redact import scrub

log = logging.getLogger("zkbridge")
SECRET_VARIABLES = ("ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN", "ZENDESK_OAUTH_CLIENT_SECRET",
                    "ZENDESK_WEBHOOK_SECRET", "KLAVIYO_API_KEY", "KLAVIYO_WEBHOOK_SECRET",
                    "OPS_TOKEN")


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


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The credentials this process holds, so a log guard can blank them wherever they turn up."""
    values = [part.strip() for name in SECRET_VARIABLES
              for part in _env_or_file(env, name).split(",")]
    values.append(_env_or_file(env, "FLOWER_BASIC_AUTH").partition(":")[2])
    values.append(urlparse(_env_or_file(env, "REDIS_URL")).password or "")
    return [v for v in values if len(v) >= 6]


def _env_or_file(env: Mapping[str, str], name: str) -> str:
    """A variable's value, or the content of the file `<name>_FILE` names (config.py reads
    secrets the same way and reports a file it cannot read; here it is simply skipped)."""
    path = env.get(f"{name}_FILE")
    if not path:
        return env.get(name, "")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


class ScrubFilter(logging.Filter):
    """A second guard for log lines we do not write ourselves (Celery's task lines carry
    exception messages, tracebacks carry anything): mask phone numbers and emails, blank known
    secrets. Put it on handlers, so records from every child logger pass through it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return scrub(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = self.clean(record.getMessage()), None
        except Exception:  # noqa: BLE001 - a malformed record must still be logged
            record.msg, record.args = self.clean(str(record.msg)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True


def guard_handlers(logger: logging.Logger, secrets: Iterable[str]) -> None:
    """Put one ScrubFilter on each of `logger`'s handlers (once)."""
    guard = ScrubFilter(secrets)
    for handler in logger.handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(guard)
