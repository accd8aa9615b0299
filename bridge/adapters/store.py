"""Everything the bridge keeps in Redis, one store per concern, built on one connection pool.

`Store` is only the bundle a process builds once (bootstrap.py): handlers and ops reach each
concern by name (`store.events`, `store.ledger`, ...) through the ports in bridge/ports.py, and
nothing outside bridge/adapters/ touches the Redis client. Every key and its lifetime is in
redis_keys.py.
"""

from __future__ import annotations

from typing import Any

import redis

from bridge.adapters import redis_keys as keys
from bridge.adapters.broker_view import BrokerView
from bridge.adapters.bulk_staging import BulkStaging
from bridge.adapters.conversations import Conversations
from bridge.adapters.due_refs import DueRefs
from bridge.adapters.event_log import EventLog
from bridge.adapters.fair_quota import FairQuota
from bridge.adapters.ledger import Ledger
from bridge.adapters.metric_buffer import MetricBuffer
from bridge.adapters.open_sms import OpenSmsIndex
from bridge.adapters.ordered_queues import OrderedQueues
from bridge.adapters.outcomes import Outcomes
from bridge.adapters.quota import Quota
from bridge.adapters.support_state import SupportState
from bridge.adapters.ticket_reads import TicketReads
from bridge.adapters.zendesk_auth import TokenCache


class Store:
    def __init__(self, client: redis.Redis, event_ttl: int = 14 * keys.DAY,
                 wait_replicas: int = 0, wait_ms: int = 500,
                 dedup_window: int = 3 * keys.DAY) -> None:
        self.client = client            # for tests and adapters only (a test checks this)
        self.events = EventLog(client, event_ttl, wait_replicas=wait_replicas, wait_ms=wait_ms,
                               dedup_window=dedup_window)
        self.queues = OrderedQueues(client)
        self.open_sms = OpenSmsIndex(client)
        self.conversations = Conversations(client, self.open_sms)
        self.ledger = Ledger(client)
        self.outcomes = Outcomes(client)
        self.quota = Quota(client)
        self.fair_quota = FairQuota(client)   # E7: brands take turns on the shared Zendesk budget
        self.due = DueRefs(client)        # jobs waiting past a safe countdown (#14)
        self.metric_buffer = MetricBuffer(client)
        self.support = SupportState(client)   # M5: requesters' open tickets
        self.bulk = BulkStaging(client)       # E6: texts waiting for a bulk job
        self.reads = TicketReads(client)      # E6: ticket reads shared under a backlog
        self.zendesk_tokens = TokenCache(client)
        self.broker = BrokerView(client)   # read-only: the sweep's look at Celery's lists

    @property
    def event_ttl(self) -> int:
        return self.events.event_ttl

    def ping(self) -> bool:
        """Raises redis.RedisError when Redis does not answer."""
        return bool(self.client.ping())

    def info(self, section: str) -> dict[str, Any]:
        return dict(self.client.info(section))
