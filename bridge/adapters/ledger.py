"""The ledger: what the bridge has written or is about to write upstream, so a retry after a
crash checks before writing again (E1) and the bridge recognises its own writes when they come
back as webhooks (A2, A7). Intents, own comments, posted texts, reply states (A6), sent texts,
notes, metric markers (M1) and export cursors.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bridge.adapters import redis_keys as keys


class Ledger:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    # --- intents (E1) -----------------------------------------------------------------------
    def get_intent(self, ref: str) -> dict[str, Any] | None:
        raw = self._r.get(keys.intent(ref))
        return json.loads(raw) if raw else None

    def set_intent(self, ref: str, intent: dict[str, Any]) -> None:
        self._r.set(keys.intent(ref), json.dumps(intent), ex=keys.INTENT_TTL)

    def clear_intent(self, ref: str) -> None:
        self._r.delete(keys.intent(ref))

    def confirm_comment(self, ref: str, intent: dict[str, Any], comment_id: int) -> None:
        """The write landed: its comment id goes into the intent and the ledger atomically."""
        pipe = self._r.pipeline(transaction=True)
        pipe.set(keys.intent(ref), json.dumps({**intent, "comment_id": comment_id}),
                 ex=keys.INTENT_TTL)
        pipe.set(keys.own_comment(comment_id), 1, ex=keys.OWN_COMMENT_TTL)
        pipe.execute()

    # --- tickets the bridge made (M1 without a read) ------------------------------------------
    def remember_made_ticket(self, ticket_id: int, record: dict[str, Any]) -> None:
        self._r.set(keys.made_ticket(ticket_id), json.dumps(record), ex=keys.MADE_TTL)

    def made_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        raw = self._r.get(keys.made_ticket(ticket_id))
        return json.loads(raw) if raw else None

    def remember_made_requester(self, user_id: int, identity: dict[str, Any]) -> None:
        self._r.set(keys.made_requester(user_id), json.dumps(identity), ex=keys.MADE_TTL)

    def made_requester(self, user_id: int) -> dict[str, Any] | None:
        raw = self._r.get(keys.made_requester(user_id))
        return json.loads(raw) if raw else None

    # --- the bridge's own writes (A2, A7) ---------------------------------------------------
    def remember_posted(self, requester_id: int, text: str) -> None:
        """A text the bridge is about to post in this requester's name (recorded before the
        write, and keyed by requester because a new ticket's id is not known yet, so even a
        webhook that overtakes the write's answer is recognised as the bridge's own, A2)."""
        self._r.set(keys.posted(requester_id, text), 1, ex=keys.OWN_COMMENT_TTL)

    def was_posted(self, requester_id: int, text: str) -> bool:
        return bool(self._r.exists(keys.posted(requester_id, text)))

    def remember_own_comment(self, comment_id: int) -> None:
        self._r.set(keys.own_comment(comment_id), 1, ex=keys.OWN_COMMENT_TTL)

    def is_own_comment(self, comment_id: int) -> bool:
        return bool(self._r.exists(keys.own_comment(comment_id)))

    def remember_sent_text(self, phone: str, text: str) -> None:
        """So the bridge recognises its own reply when Klaviyo echoes it back (A7)."""
        self._r.set(keys.sent_text(phone, text), 1, ex=keys.ECHO_TTL)

    def sent_text_recently(self, phone: str, text: str) -> bool:
        return bool(self._r.exists(keys.sent_text(phone, text)))

    def remember_echo(self, phone: str, text: str, at: float) -> None:
        """Klaviyo echoed a conversation message to this phone (received_sms without a campaign
        or flow): evidence that a reply with this text went out at `at` (A6)."""
        self._r.set(keys.echo(phone, text), repr(at), ex=keys.ECHO_TTL)

    def echoed_since(self, phone: str, text: str, since: float) -> bool:
        raw = self._r.get(keys.echo(phone, text))
        return raw is not None and float(raw) >= since

    def claim(self, what: str, ttl: int = keys.CLAIM_TTL) -> bool:
        """Claim a piece of work before calling upstream (SET NX with a short TTL): a
        concurrent duplicate finds it claimed. False if another holds it."""
        return bool(self._r.set(keys.claim(what), 1, nx=True, ex=ttl))

    def release_claim(self, what: str) -> None:
        self._r.delete(keys.claim(what))

    def note_done(self, key: str) -> bool:
        return bool(self._r.exists(keys.note(key)))

    def mark_note_done(self, key: str) -> None:
        self._r.set(keys.note(key), 1, ex=keys.REPLY_TTL)

    # --- agent replies (A6) -------------------------------------------------------------------
    def begin_reply(self, comment_id: int, now: float, profile_id: str | None = None) -> bool:
        """Record the intent to send comment `comment_id` as an SMS (to `profile_id`, where a
        lost answer is looked for, A6); False if already recorded."""
        state = json.dumps({"state": "sending", "at": now, "profile_id": profile_id})
        return bool(self._r.set(keys.reply(comment_id), state, nx=True, ex=keys.REPLY_TTL))

    def reply_state(self, comment_id: int) -> dict[str, Any] | None:
        raw = self._r.get(keys.reply(comment_id))
        return json.loads(raw) if raw else None

    def finish_reply(self, comment_id: int, now: float) -> None:
        self._r.set(keys.reply(comment_id), json.dumps({"state": "sent", "at": now}),
                    ex=keys.REPLY_TTL)

    def update_reply(self, comment_id: int, record: dict[str, Any]) -> None:
        """Settling an unanswered send (A6): the record keeps its `at` and gains look-ups."""
        self._r.set(keys.reply(comment_id), json.dumps(record), ex=keys.REPLY_TTL)

    def abandon_reply(self, comment_id: int) -> None:
        """The send certainly did not happen (refused, throttled): allow a later attempt."""
        self._r.delete(keys.reply(comment_id))

    # --- ticket metrics (M1) and cursors ------------------------------------------------------
    def metric_done(self, ticket_id: int, metric: str) -> bool:
        return bool(self._r.exists(keys.metric(ticket_id, metric)))

    def mark_metric_done(self, ticket_id: int, metric: str, how: str = "sent") -> None:
        self._r.set(keys.metric(ticket_id, metric), how, ex=keys.METRIC_TTL)

    def metrics_done(self, pairs: list[tuple[int, str]]) -> list[bool]:
        pipe = self._r.pipeline(transaction=False)
        for tid, metric in pairs:
            pipe.exists(keys.metric(tid, metric))
        return [bool(x) for x in pipe.execute()]

    def get_value(self, key: str) -> str | None:
        raw = self._r.get(keys.value(key))
        return raw.decode() if raw is not None else None

    def set_value(self, key: str, value: str) -> None:
        self._r.set(keys.value(key), value)
