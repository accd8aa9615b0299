"""Chaos 2c: Redis restarted twice under load, with no process supervisor (issue 14).

The same load as test_process_faults (texts, desk tickets, closures), Redis with AOF
(`appendfsync everysec`, the README's production setting) restarted twice: once stopped
cleanly, once SIGKILLed and left down 5 s (longer than the sandbox's retries of a delivery, so
some deliveries are never acknowledged and the workers and beat spend seconds reconnecting).
Nothing restarts a process that exits: the receiver, the Celery worker and beat must ride
through both restarts on their own (broker settings in workers/celery_app.py). Every process
is still the one started at the beginning; every text the sandbox delivered with a 2xx reaches
Zendesk exactly once. Whatever the broker lost in its pop-to-unacked window is re-queued by
the sweep and counted (`sweep:repaired:*`, in the report).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.chaos.report import ChaosReport
from tests.chaos.support import TextLoad, chaos_stack
from tests.chaos.test_process_faults import Outcome, finish_and_settle

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

CUSTOMERS = 30
ROUNDS = 24
# (seconds into the load, how Redis is stopped, seconds it stays down)
RESTARTS = ((8.0, signal.SIGTERM, 0.0), (18.0, signal.SIGKILL, 5.0))
ENV = {"CELERY_VISIBILITY_TIMEOUT": "30", "WORKER_CONCURRENCY": "4",
       "RECONCILE_INTERVAL_SECONDS": "20"}
PROCESSES = ("web", "worker", "beat")


@pytest.mark.timeout(300)
def test_two_redis_restarts_under_load_need_no_supervisor_and_lose_no_acknowledged_text(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("redis-restarts-no-supervisor")
    with chaos_stack(tmp_path, ENV, redis_aof=True) as (stack, bridge):
        pids = {name: stack.procs[name].popen.pid for name in PROCESSES}
        phones = bridge.make_customers(CUSTOMERS)
        load = TextLoad(bridge, phones, ROUNDS, interval=1.0, tag="restart")
        began = time.monotonic()
        load.start()
        done = []
        for at, sig, down_for in RESTARTS:
            time.sleep(max(0.0, at - (time.monotonic() - began)))
            down = stack.restart_redis(sig, down_for)
            done.append(f"{time.monotonic() - began:.1f}s redis {signal.Signals(sig).name} "
                        f"(down {down:.1f}s)")
        check = Outcome(bridge, load)
        try:
            finish_and_settle(bridge, load, check)
        finally:
            exited = [n for n in PROCESSES if not stack.procs[n].alive()]
            check.report(report)
            report.notes["chaos"] = "; ".join(done)
            report.notes["exited_on_their_own"] = exited or "none"
            counters = bridge.counters()
            report.notes["repaired_by_sweep"] = {k: v for k, v in counters.items()
                                                 if k.startswith("sweep:repaired:")} or 0
            report.emit(record_property)
        assert exited == [], f"exited during the restarts: {exited}"
        assert {n: stack.procs[n].popen.pid for n in PROCESSES} == pids
        check.assert_exactly_once()
