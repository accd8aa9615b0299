"""Chaos 2: processes die under load, and Redis restarts with AOF (E1).

While texts, desk tickets and closures flow: the Celery worker is SIGKILLed (all its
processes) three times at random moments and a pool child once, a gunicorn worker process is
SIGKILLed twice, beat is restarted, and Redis is restarted (SIGTERM, then started again on the
same port and dir) with `appendonly yes` + `appendfsync everysec`, the README's production
setting. Every text the sandbox delivered with a 2xx reaches Zendesk exactly once; every
ticket gets one Opened Ticket and every closed one one Resolved Ticket; nothing is doubled.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from pathlib import Path

import pytest

from scripts.devstack import Stack
from tests.chaos.report import ChaosReport, tally
from tests.chaos.support import (
    Supervisor,
    TextLoad,
    broker_idle,
    chaos_stack,
    child_pids,
    failed_jobs,
    outbox_idle,
    texts_landed,
    wait_until,
)
from tests.e2e.harness import Bridge

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

CUSTOMERS = 30
ROUNDS = 24
ENV = {
    "CELERY_VISIBILITY_TIMEOUT": "30",     # a dead worker's messages come back within a minute
    "WORKER_CONCURRENCY": "4",
    # The catch-up sweep (M4) is part of how a ticket metric survives a lost message; at the
    # test's pace it runs every 20 s instead of every 5 minutes.
    "RECONCILE_INTERVAL_SECONDS": "20",
}


@pytest.mark.timeout(300)
def test_killed_processes_and_a_redis_restart_with_aof_lose_and_double_nothing(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("processes+redis-aof")
    rng = random.Random(4242)
    with chaos_stack(tmp_path, ENV, redis_aof=True) as (stack, bridge):
        phones = bridge.make_customers(CUSTOMERS)
        load = TextLoad(bridge, phones, ROUNDS, interval=1.0, tag="proc")
        supervisor = Supervisor(stack)
        actions = [(rng.uniform(3, 6), "kill worker", kill_worker),
                   (rng.uniform(8, 10), "kill gunicorn worker", kill_web_worker),
                   (rng.uniform(11, 13), "restart beat", lambda s: s.restart("beat")),
                   (rng.uniform(14, 17), "restart redis", restart_redis),
                   (rng.uniform(19, 22), "kill worker", kill_worker),
                   (rng.uniform(23, 25), "kill pool child", kill_pool_child),
                   (rng.uniform(26, 29), "kill worker", kill_worker),
                   (rng.uniform(29, 31), "kill gunicorn worker", kill_web_worker)]
        began = time.monotonic()
        load.start()
        supervisor.start()
        done = []
        for at, what, act in sorted(actions):
            time.sleep(max(0.0, at - (time.monotonic() - began)))
            with supervisor.hands_off():
                detail = act(stack)
            done.append(f"{time.monotonic() - began:.1f}s {what}{detail or ''}")
        check = Outcome(bridge, load)
        try:
            finish_and_settle(bridge, load, check)
        finally:
            supervisor.stop()
            check.report(report)
            report.notes["chaos"] = "; ".join(done)
            report.notes["exited_on_their_own"] = supervisor.restarts or "none"
            report.emit(record_property)
        check.assert_exactly_once()


def finish_and_settle(bridge: Bridge, load: TextLoad, check: Outcome) -> None:
    """The load's last texts and closure, then every acknowledged event's effect, then quiet
    (no delivery pending, no task queued or held)."""
    load.finish()
    load.close_last()
    wait_until(check.complete, 180, "every acknowledged event's effect", every=2)
    wait_until(lambda: outbox_idle(bridge) and broker_idle(bridge), 60, "quiet")


class Outcome:
    """What should have happened (from the load's acknowledged deliveries) against what did."""

    def __init__(self, bridge: Bridge, load: TextLoad) -> None:
        self.bridge, self.load = bridge, load
        self.pattern = re.compile(rf"{load.tag} \d{{3}}-\d{{3}}")

    def acknowledged(self) -> list[str]:
        return [body for body, _, _, acked in self.load.texts if acked is not None]

    def complete(self) -> bool:
        tickets = self.bridge.tickets()
        landed = {b for v in texts_landed(tickets, self.pattern).values() for b in v}
        opened = {e["properties"]["Ticket_id"] for e in self.bridge.klaviyo_events(
            "Opened Ticket")}
        resolved = {e["properties"]["Ticket_id"] for e in self.bridge.klaviyo_events(
            "Resolved Ticket")}
        return (set(self.acknowledged()) <= landed and {t["id"] for t in tickets} <= opened
                and set(self.load.closed) <= resolved and broker_idle(self.bridge))

    def report(self, report: ChaosReport) -> None:
        tickets = self.bridge.tickets()
        landed = texts_landed(tickets, self.pattern)
        self.texts = report.add("texts", tally(self.acknowledged(),
                                               [b for v in landed.values() for b in v]))
        self.opened = report.add("opened", tally([t["id"] for t in tickets], [
            e["properties"]["Ticket_id"] for e in self.bridge.klaviyo_events("Opened Ticket")]))
        self.resolved = report.add("resolved", tally(self.load.closed, [
            e["properties"]["Ticket_id"] for e in self.bridge.klaviyo_events(
                "Resolved Ticket")]))
        self.tickets_per_conversation = [ext for ext in landed
                                         if sum(1 for t in tickets
                                                if t["external_id"] == ext) != 1]
        unacked = sum(1 for *_, acked in self.load.texts if acked is None)
        report.events_in = len(self.load.texts) + len(self.load.desk) + len(self.load.closed)
        report.notes["texts_unacknowledged"] = unacked
        report.notes["unacknowledged_but_applied"] = len(self.texts.unexpected)
        report.notes["failed_jobs"] = len(failed_jobs(self.bridge))
        report.notes["metrics_from_catch_up"] = self.bridge.counters().get(
            "ticket_metric:processed:sweep", 0)

    def assert_exactly_once(self) -> None:
        assert self.texts.duplicates == 0 and not self.texts.lost, self.texts.lost[:10]
        assert not self.tickets_per_conversation, "a conversation got a second ticket"
        assert self.opened.duplicates == 0 and not self.opened.lost
        assert self.resolved.duplicates == 0 and not self.resolved.lost
        assert not self.resolved.unexpected
        assert failed_jobs(self.bridge) == {}


def kill_worker(stack: Stack) -> str:
    stack.kill("worker", signal.SIGKILL)
    stack.start_process("worker")
    return ""


def kill_pool_child(stack: Stack) -> str:
    children = child_pids(stack.procs["worker"].popen.pid)
    if not children:
        return " (no child yet)"
    os.kill(random.choice(children), signal.SIGKILL)
    return ""


def kill_web_worker(stack: Stack) -> str:
    children = child_pids(stack.procs["web"].popen.pid)
    if not children:
        return " (no child yet)"
    victim = random.choice(children)
    os.kill(victim, signal.SIGKILL)
    return f" (pid {victim} of {len(children)})"


def restart_redis(stack: Stack) -> str:
    return f" (down {stack.restart_redis():.1f}s)"
