"""Chaos 5: the Redis primary dies under load and Sentinel promotes its replica (issue 14).

A primary, a replica and three sentinels (`redis-server --sentinel`, tests/chaos/sentinel_set.py),
AOF on both, and the bridge configured with REDIS_SENTINELS + REDIS_MASTER_NAME, so the receiver
acknowledges a delivery only after `WAIT 1` (REDIS_WAIT_REPLICAS defaults to 1 under Sentinel).
About 10 texts a second flow (plus desk tickets and closures) while the primary is SIGKILLed;
the sentinels promote the replica, and the old primary comes back and is made a replica. Texts
answered 503 meanwhile are re-sent by the sandbox as Klaviyo would (sandbox/klaviyo/webhooks.py:
backoff, 5 attempts). No process is restarted by the test: the receiver, the worker and beat
follow the new primary by themselves, and every text answered 2xx lands exactly once.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from scripts.devstack import Stack
from tests.chaos.report import ChaosReport, tally
from tests.chaos.sentinel_set import MASTER, SentinelSet, sentinel_set
from tests.chaos.support import (
    BASE_ENV,
    TextLoad,
    broker_idle,
    match_sandbox_limits,
    outbox_idle,
    texts_landed,
    wait_until,
)
from tests.e2e.harness import Bridge

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

CUSTOMERS = 10          # one text each per round, about a round a second: ~10 texts/s
ROUNDS = 30
FAIL_AT = 10.0          # seconds into the load
ENV = {"CELERY_VISIBILITY_TIMEOUT": "30", "WORKER_CONCURRENCY": "4", "REDIS_WAIT_MS": "500",
       "REDIS_MASTER_NAME": MASTER}
PROCESSES = ("web", "worker", "beat")


@pytest.mark.timeout(420)
def test_a_sentinel_failover_under_load_loses_and_doubles_no_acknowledged_text(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("sentinel-failover")
    with sentinel_set(tmp_path / "redis") as nodes:
        old = nodes.primary_port()
        stack = Stack(workdir=tmp_path, redis_url=f"redis://127.0.0.1:{old}/0",
                      extra_env={**BASE_ENV, **ENV, "REDIS_SENTINELS": nodes.sentinels})
        try:
            stack.start()
            bridge = Bridge(stack)
            match_sandbox_limits(bridge)
            _run(stack, bridge, nodes, old, report, record_property)
        finally:
            stack.stop()


def _run(stack: Stack, bridge: Bridge, nodes: SentinelSet, old: int, report: ChaosReport,
         record_property) -> None:  # noqa: ANN001
    pids = {name: stack.procs[name].popen.pid for name in PROCESSES}
    load = TextLoad(bridge, bridge.make_customers(CUSTOMERS), ROUNDS, interval=0.5,
                    tag="failover")
    began = time.monotonic()
    load.start()
    time.sleep(max(0.0, FAIL_AT - (time.monotonic() - began)))
    killed_at = time.monotonic()
    nodes.kill(old)
    new = nodes.wait_promoted(old)
    promoted_in = time.monotonic() - killed_at
    nodes.restart(old)                   # comes back; the sentinels make it a replica
    nodes.wait_replicated(new, old)
    replica_in = time.monotonic() - killed_at - promoted_in
    bridge.redis = nodes.client(new)     # the test's own view follows the new primary
    load.finish(timeout=180)
    pattern = re.compile(r"failover \d{3}-\d{3}")
    acked = [body for body, _, _, at in load.texts if at is not None]

    def landed() -> list[str]:
        return [b for v in texts_landed(bridge.tickets(), pattern).values() for b in v]

    try:
        wait_until(lambda: set(acked) <= set(landed()) and broker_idle(bridge), 180,
                   "every acknowledged text")
        wait_until(lambda: outbox_idle(bridge) and broker_idle(bridge), 60, "quiet")
    finally:
        exited = [n for n in PROCESSES if not stack.procs[n].alive()]
        texts = report.add("texts", tally(acked, landed()))
        counters = bridge.counters()
        report.events_in = len(load.texts) + len(load.desk) + len(load.closed)
        report.notes["chaos"] = (f"primary {old} SIGKILLed at {killed_at - began:.1f}s, "
                                 f"replica {new} promoted in {promoted_in:.1f}s, "
                                 f"old primary replicating {replica_in:.1f}s later")
        report.notes["texts_unacknowledged"] = len(load.texts) - len(acked)
        report.notes["answered_503_not_replicated"] = sum(
            v for k, v in counters.items() if k.endswith(":rejected:not_replicated"))
        report.notes["repaired_by_sweep"] = sum(
            v for k, v in counters.items() if k.startswith("sweep:repaired:"))
        report.notes["exited_on_their_own"] = exited or "none"
        report.emit(record_property)
    assert exited == [] and {n: stack.procs[n].popen.pid for n in PROCESSES} == pids
    assert texts.duplicates == 0, "a text was applied twice"
    assert not texts.lost, f"acknowledged texts lost in the failover: {texts.lost[:10]}"
    tickets = bridge.tickets()
    assert all(sum(1 for t in tickets if t["external_id"] == ext) == 1
               for ext in {t["external_id"] for t in tickets if t["external_id"]})
