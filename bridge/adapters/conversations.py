"""Caches of what Zendesk and Klaviyo know, so the hot path makes fewer calls: the conversation
map (customer phone + brand number -> ticket; a cache, rebuilt from Zendesk when lost), the
Klaviyo profile, and agents' emails (A3)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

import redis

from bridge.adapters import redis_keys as keys
from bridge.adapters.open_sms import OpenSmsIndex
from bridge.domain.model import Conversation, Profile


class Conversations:
    def __init__(self, client: redis.Redis, open_sms: OpenSmsIndex | None = None) -> None:
        self._r = client
        self._open_sms = open_sms or OpenSmsIndex(client)
        self._customer_wrote = client.register_script(_CUSTOMER_WROTE)

    def get_conversation(self, phone: str, brand: str) -> Conversation | None:
        raw = self._r.hgetall(keys.conversation(phone, brand))
        if not raw:
            return None
        d = {k.decode(): v.decode() for k, v in raw.items()}
        return Conversation(phone=phone, brand_number=brand,
                            ticket_id=_optional_int(d.get("ticket_id")),
                            ticket_status=d.get("ticket_status") or None,
                            requester_id=_optional_int(d.get("requester_id")),
                            profile_id=d.get("profile_id") or None,
                            klaviyo_conversation_id=d.get("klaviyo_conversation_id") or None,
                            solved_at=_optional_float(d.get("solved_at")))

    def put_conversation(self, conv: Conversation) -> None:
        key = keys.conversation(conv.phone, conv.brand_number)
        values = {k: ("" if v is None else v) for k, v in asdict(conv).items()}
        values["updated_at"] = time.time()
        pipe = self._r.pipeline()
        pipe.hset(key, mapping=values)
        pipe.expire(key, keys.CONVERSATION_TTL)
        if conv.ticket_id:
            pipe.set(keys.ticket_conversation(conv.ticket_id),
                     f"{conv.phone}:{conv.brand_number}", ex=keys.CONVERSATION_TTL)
            self._open_sms.mark(conv.phone, conv.brand_number, conv.ticket_id,
                                conv.ticket_status or "new", pipe)
        pipe.zadd(keys.RECENT, {f"{conv.phone}:{conv.brand_number}": time.time()})
        pipe.zremrangebyrank(keys.RECENT, 0, -keys.RECENT_KEEP - 1)
        pipe.execute()

    def set_ticket_status(self, ticket_id: int, phone: str, brand: str, status: str,
                          at: float | None = None) -> bool:
        """Keep the cached status and the open-SMS index in step with Zendesk (from its
        webhooks); False if the conversation is not cached (the index is kept either way).
        `at` is when the change happened: kept as the solved time when solved (S11)."""
        self._open_sms.mark(phone, brand, ticket_id, status)
        conv = self.get_conversation(phone, brand)
        if conv is None or conv.ticket_id != ticket_id:
            return False
        solved_at = at if status == "solved" and at is not None else ""
        self._r.hset(keys.conversation(phone, brand),
                     mapping={"ticket_status": status, "solved_at": solved_at})
        return True

    def customer_wrote(self, phone: str, brand: str, at: float) -> None:
        """S9: keep the time of the customer's latest message in the conversation (the later
        of the stored one and `at`; messages may be applied after a later one was noted). Only
        on a conversation already cached: a hash holding this field alone would read as a
        conversation without a ticket."""
        self._customer_wrote(keys=[keys.conversation(phone, brand)], args=[at])

    def last_customer_message(self, phone: str, brand: str) -> float | None:
        """When the customer last wrote in this conversation, as far as the bridge applied."""
        return _optional_float(_text(self._r.hget(keys.conversation(phone, brand),
                                                   CUSTOMER_AT)))

    def ticket_conversation(self, ticket_id: int) -> tuple[str, str] | None:
        raw = self._r.get(keys.ticket_conversation(ticket_id))
        if not raw:
            return None
        phone, _, brand = raw.decode().partition(":")
        return phone, brand

    def recent(self, limit: int) -> list[tuple[Conversation | None, str, str, float]]:
        """The latest conversations for /ops: (cached conversation, phone, brand, updated)."""
        out = []
        for member, at in self._r.zrevrange(keys.RECENT, 0, limit - 1, withscores=True):
            phone, _, brand = member.decode().partition(":")
            out.append((self.get_conversation(phone, brand), phone, brand, float(at)))
        return out

    # --- profile and agent caches -------------------------------------------------------------
    def cached_profile(self, profile_id: str) -> Profile | None:
        raw = self._r.get(keys.profile(profile_id))
        return Profile(**json.loads(raw)) if raw else None

    def cache_profile(self, profile: Profile) -> None:
        self._r.set(keys.profile(profile.id), json.dumps(asdict(profile)), ex=keys.PROFILE_TTL)

    def cached_context(self, profile_id: str) -> dict[str, Any] | None:
        raw = self._r.get(keys.context(profile_id))
        return json.loads(raw) if raw else None

    def cache_context(self, profile_id: str, doc: dict[str, Any]) -> None:
        self._r.set(keys.context(profile_id), json.dumps(doc), ex=keys.CONTEXT_TTL)

    def agent_email(self, user_id: int) -> str | None:
        raw = self._r.get(keys.agent(user_id))
        return raw.decode() if raw is not None else None

    def cache_agent_email(self, user_id: int, email: str) -> None:
        self._r.set(keys.agent(user_id), email, ex=keys.AGENT_TTL)

    def group_name(self, group_id: int) -> str | None:
        raw = self._r.get(keys.group(group_id))
        return raw.decode() if raw is not None else None

    def cache_group_name(self, group_id: int, name: str) -> None:
        self._r.set(keys.group(group_id), name, ex=keys.GROUP_TTL)

    def cache_users(self, users: dict[int, dict[str, Any]]) -> None:
        """Users seen in sideloads: their emails serve the A3 check without another call."""
        if not users:
            return
        pipe = self._r.pipeline(transaction=False)
        for uid, user in users.items():
            pipe.set(keys.agent(uid), user.get("email") or "", ex=keys.AGENT_TTL)
        pipe.execute()


CUSTOMER_AT = "customer_at"    # S9: the customer's last message (not a Conversation field)
_CUSTOMER_WROTE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local known = tonumber(redis.call('HGET', KEYS[1], 'customer_at') or '') or 0
if tonumber(ARGV[1]) > known then redis.call('HSET', KEYS[1], 'customer_at', ARGV[1]) end
return 1
"""


def _text(raw: bytes | None) -> str | None:
    return raw.decode() if raw is not None else None


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


def _optional_float(value: str | None) -> float | None:
    """A stored number; None for a conversation stored before the field existed ("" or
    absent) or anything unreadable."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
