"""Ticket reads shared under a backlog (E6, #11): the tickets whose Opened / Resolved Ticket
event waits for a read (`zkb:reads:wanted`, by when first wanted), and the tickets a
`tickets/show_many` call read for other tasks (`zkb:reads:ticket:<id>`, kept briefly and taken
once), so that the task which gets the Zendesk budget first reads up to 100 waiting tickets in
one call and the others find theirs here (handlers/ticket_reads.py).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bridge.adapters import redis_keys as keys

People = tuple[dict[str, Any], dict[int, dict], dict[int, dict]]
WANTED_FOR = 900.0     # a want older than this is dropped (its task ended some other way)


class TicketReads:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def want(self, ticket_id: int, now: float) -> None:
        self._r.zadd(keys.READS_WANTED, {str(ticket_id): now}, nx=True)

    def wanted(self, limit: int, now: float) -> list[int]:
        """The tickets waiting for a read, oldest first (stale wants dropped)."""
        self._r.zremrangebyscore(keys.READS_WANTED, "-inf", now - WANTED_FOR)
        return [int(m) for m in self._r.zrange(keys.READS_WANTED, 0, limit - 1)]

    def keep(self, found: dict[int, People], asked: list[int]) -> None:
        """What one read found, for the tasks that wanted it; every asked ticket is no longer
        wanted (one not found was deleted: its task reads it alone and meets the 404)."""
        pipe = self._r.pipeline(transaction=True)
        for ticket_id, (ticket, users, groups) in found.items():
            pipe.set(keys.read_ticket(ticket_id), json.dumps(
                {"ticket": ticket, "users": list(users.values()),
                 "groups": list(groups.values())}), ex=keys.READ_TTL)
        if asked:
            pipe.zrem(keys.READS_WANTED, *[str(i) for i in asked])
        pipe.execute()

    def take(self, ticket_id: int) -> People | None:
        """The ticket as another task's read found it, once (a later event reads afresh)."""
        raw = self._r.getdel(keys.read_ticket(ticket_id))
        if not raw:
            return None
        doc = json.loads(raw)
        return (doc["ticket"], {int(u["id"]): u for u in doc["users"]},
                {int(g["id"]): g for g in doc["groups"]})
