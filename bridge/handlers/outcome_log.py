"""One JSON log line per event outcome (E5: values masked), written by every handler alike."""

from __future__ import annotations

import logging
from typing import Any

from bridge.domain.redact import scrub

log = logging.getLogger("zkbridge")


def log_outcome(ref: str, source: str, decision: str, **fields: Any) -> None:
    record = {"event": ref, "source": source, "decision": decision}
    for k, v in fields.items():
        if isinstance(v, float):
            v = round(v, 4)
        record[k] = scrub(v) if isinstance(v, str) else v
    log.info("outcome", extra={"fields": record})
