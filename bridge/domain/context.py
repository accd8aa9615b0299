"""A9: what an agent sees on a new SMS ticket about the customer, before reading a word: the
last campaign or flow SMS the brand sent them (name, text, when) and their SMS consent.

Pure: the handler reads Klaviyo (cached, budgeted) and passes the values in; this module only
decides the wording and the tags. All of it rides in the ticket's creation call (a custom
field and tags), so it costs no Zendesk call (E6).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

BODY_CHARS = 300            # of the last SMS, in the field (a campaign text is rarely longer)
CONSENT_WORDS = {"marketing": "subscribed to SMS marketing",
                 "transactional": "transactional SMS only (not subscribed to marketing)"}


@dataclass(frozen=True)
class LastSms:
    """The newest campaign or flow SMS Klaviyo recorded as received by the customer."""

    source: str     # "campaign" | "flow"
    name: str
    body: str
    at: float       # epoch seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LastSms:
        return cls(source=str(doc["source"]), name=str(doc["name"]), body=str(doc["body"]),
                   at=float(doc["at"]))


@dataclass(frozen=True)
class TicketContext:
    """What was found. `known` is False when Klaviyo could not be asked (the ticket is made
    without context rather than waiting for it)."""

    last_sms: LastSms | None
    known: bool = True


def context_text(context: TicketContext, consent: str | None) -> str | None:
    """The field's text, or None when there is nothing worth showing."""
    if not context.known:
        return None
    lines = [_last_sms_line(context.last_sms)]
    if context.last_sms is not None and context.last_sms.body.strip():
        lines.append(f"“{_cut(context.last_sms.body.strip())}”")
    lines.append("Consent: " + CONSENT_WORDS.get(consent or "", "unknown"))
    return "\n".join(lines)


def context_tags(context: TicketContext, consent: str | None) -> list[str]:
    """Tags agents and views can filter on; none when Klaviyo could not be asked."""
    if not context.known:
        return []
    tags = [f"sms_consent_{consent}"] if consent in CONSENT_WORDS else []
    if context.last_sms is not None:
        tags.append(f"last_sms_{context.last_sms.source}")
    return tags


def _last_sms_line(last: LastSms | None) -> str:
    if last is None:
        return "Last SMS from the brand: none on record in Klaviyo"
    when = datetime.fromtimestamp(last.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Last SMS from the brand: {last.source} “{last.name}”, {when}"


def _cut(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) <= BODY_CHARS:
        return one_line
    return one_line[:BODY_CHARS].rsplit(" ", 1)[0] + "…"
