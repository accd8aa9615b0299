"""S7 and E1 with real processes: texts Klaviyo re-sends 5 s late during a Redis restart take
their place by the customer's send time, exactly once (README "Order": a text up to
`INBOUND_SETTLE_MS` later than the next text's arrival is always put in order).

Customers text once a second while the bridge's own Redis (AOF on, the README's production
setting) is stopped and started again 3-4 s later. Meanwhile the receiver answers 503 +
`Retry-After: 5`; the sandbox's Klaviyo follows it (account setting `retry_after_on_503`), so
each text refused during the outage is re-sent 5 s after its first try — after the customer's
texts sent once Redis was back. `INBOUND_SETTLE_MS` is 7000 here: the documented way to cover
re-sends that late (at the default 300 ms such a text is added after the later ones).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from scripts.devstack import Stack
from tests.chaos.support import acknowledged_at, wait_delivered
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e
CUSTOMERS = 4
TEXTS = 14               # each customer texts once a second
REDIS_STOPS_AT = 4.0     # seconds into the texting
REDIS_DOWN = 3.0         # + stopping and starting: away ~4 s, shorter than the Retry-After
SETTLE_SECONDS = 7.0     # INBOUND_SETTLE_MS: the window a late text is put in order within


def text_every_second(bridge: Bridge, phones: list[str], deliveries: list[int]) -> None:
    """Text `i` of every customer in one delivery, one delivery a second (send order)."""
    began = time.monotonic()
    for i in range(TEXTS):
        time.sleep(max(0.0, began + i - time.monotonic()))
        answer = bridge.text_batch([{"from": p, "to": TOLL_FREE, "body": f"text {i:02d}"}
                                    for p in phones])
        deliveries.append(answer["delivery_id"])


def lateness(acked: list[float]) -> list[float]:
    """How much later than the next text's arrival each text arrived (<= 0: in order)."""
    return [at - min(acked[i + 1:]) for i, at in enumerate(acked[:-1])]


def test_texts_resent_5_s_late_during_a_redis_restart_keep_the_customers_order(
        tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, redis_aof=True, extra_env={
        **E2E_ENV, "INBOUND_SETTLE_MS": str(int(SETTLE_SECONDS * 1000))})
    try:
        stack.start()
        bridge = Bridge(stack)
        phones = bridge.make_customers(CUSTOMERS)
        requests.post(f"{bridge.sandbox}/_sandbox/klaviyo/settings",
                      json={"retry_after_on_503": True}, timeout=10).raise_for_status()
        deliveries: list[int] = []
        texting = threading.Thread(target=text_every_second, args=(bridge, phones, deliveries))
        texting.start()
        time.sleep(REDIS_STOPS_AT)
        away = stack.restart_redis(signal.SIGTERM, REDIS_DOWN)
        texting.join(TEXTS + 10)
        records = wait_delivered(bridge, deliveries, timeout=60)
        refused = [d for d in deliveries if records[d]["attempts"][0]["status"] == 503]
        acked = [acknowledged_at(records[d]) for d in deliveries]
        assert None not in acked, "a delivery was dropped: the re-send did not outlast Redis"
        late = lateness([float(a) for a in acked if a is not None])
        print(f"redis away {away:.1f}s; refused first: {len(refused)} of {len(deliveries)}; "
              f"latest re-send {max(late):.1f}s after a later text's arrival")
        assert refused and max(late) > 1.0, "no text was re-sent after the customer's later ones"
        assert max(late) < SETTLE_SECONDS, "a re-send came later than the documented window"

        wanted = [f"text {i:02d}" for i in range(TEXTS)]
        wait_for(lambda: all(len(bridge.tickets_of(p)) == 1 and len(bridge.comments(
            bridge.tickets_of(p)[0]["id"])) >= TEXTS for p in phones), timeout=120,
            what="every text in its ticket")
        bridge.settle()
        for p in phones:
            [ticket] = bridge.tickets_of(p)
            bodies = [c["body"] for c in bridge.comments(ticket["id"])]
            assert bodies == wanted, f"customer {phones.index(p)}: {bodies}"
    finally:
        stack.stop()
