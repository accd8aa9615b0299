"""The crash-safety state of a customer's text (E1), as typed values.

- `PreparedText`: what screening worked out (S1–S6), kept on the event so a retry does not ask
  Klaviyo again;
- `CreationIntent`: a ticket POST about to be made (its body, the ticket it follows), then the
  id it got: a re-run replays the POST with the same Idempotency-Key or finds the ticket (a
  creation sent in a bulk job, `bulk`, had no key: it is always looked for first, E6);
- `CommentIntent`: a comment PUT about to be made on a ticket, then the comment's id: a re-run
  looks for the comment before writing again.

They are stored as JSON by the ledger and the event log; `from_json` reads what earlier versions
wrote (the same keys), so an upgrade in the middle of a crash recovery loses nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class PreparedText:
    phone: str
    brand: str
    body: str
    subject: str
    name: str
    email: str | None = None
    opt_out_request: bool = False     # S10: asks in plain words to stop (tag + note)
    profile_id: str | None = None     # A9: whose context a new ticket shows
    consent: str | None = None        # A9: "marketing" / "transactional"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PreparedText:
        return cls(phone=str(doc["phone"]), brand=str(doc["brand"]), body=str(doc["body"]),
                   subject=str(doc["subject"]), name=str(doc["name"]),
                   email=doc.get("email") or None,
                   opt_out_request=bool(doc.get("opt_out_request")),
                   profile_id=doc.get("profile_id") or None, consent=doc.get("consent") or None)


@dataclass(frozen=True)
class CreationIntent:
    at: float
    ticket: dict[str, Any]       # the POST body, replayed as it was
    after: int = 0               # the conversation's ticket before this one (0: none)
    ticket_id: int | None = None
    follows_solved: int | None = None   # S11: the solved ticket it follows (for the note)
    bulk: bool = False           # E6: sent in a create_many job (no Idempotency-Key to replay)

    @property
    def requester_id(self) -> int:
        return int(self.ticket["requester_id"])

    def created(self, ticket_id: int) -> CreationIntent:
        return replace(self, ticket_id=ticket_id)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"create": True, "at": self.at, "ticket": self.ticket,
                               "after": self.after}
        if self.ticket_id is not None:
            doc["ticket_id"] = self.ticket_id
        if self.follows_solved is not None:
            doc["follows_solved"] = self.follows_solved
        if self.bulk:
            doc["bulk"] = True
        return doc


@dataclass(frozen=True)
class CommentIntent:
    ticket_id: int
    at: float
    comment_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ticket_id": self.ticket_id, "at": self.at}
        if self.comment_id is not None:
            doc["comment_id"] = self.comment_id
        return doc


Intent = CreationIntent | CommentIntent


def intent_from_json(doc: dict[str, Any] | None) -> Intent | None:
    """The intent a job left, from its stored JSON (None if it left none)."""
    if not doc:
        return None
    if doc.get("create"):
        return CreationIntent(at=float(doc["at"]), ticket=dict(doc["ticket"]),
                              after=int(doc.get("after") or 0),
                              ticket_id=_id(doc.get("ticket_id")),
                              follows_solved=_id(doc.get("follows_solved")),
                              bulk=bool(doc.get("bulk")))
    return CommentIntent(ticket_id=int(doc["ticket_id"]), at=float(doc.get("at") or 0),
                         comment_id=_id(doc.get("comment_id")))


def _id(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)
