"""workers/queues.py is the one table of queues, routes and event kinds, and the receiver can
import it without building a Celery app or opening a connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bridge.domain.model import RawEvent
from workers import queues

ROOT = Path(__file__).resolve().parents[2]


def test_importing_queues_builds_no_celery_app_and_imports_no_worker_module() -> None:
    probe = ("import sys, workers.queues\n"
             "from celery import _state\n"
             "assert not list(_state._get_active_apps()), 'a Celery app was built'\n"
             "loaded = [m for m in sys.modules if m.startswith('workers.') "
             "and m != 'workers.queues']\n"
             "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_routed_task_goes_to_a_declared_queue_by_its_own_name() -> None:
    assert set(queues.QUEUE_OF_TASK.values()) == set(queues.LANES)
    assert set(queues.QUEUES) == {*queues.LANES, "zkb.klaviyo", "zkb.zendesk"}   # still consumed
    for task, route in queues.TASK_ROUTES.items():
        assert route == {"queue": queues.QUEUE_OF_TASK[task],
                         "routing_key": queues.QUEUE_OF_TASK[task]}


def test_every_task_the_receiver_or_beat_publishes_has_a_route() -> None:
    published = {*queues.TASK_BY_KIND.values(), queues.ZENDESK_TASK,
                 *(entry["task"] for entry in queues.beat_schedule(300).values())}
    assert published <= set(queues.TASK_ROUTES)


def test_each_beat_run_expires_by_the_time_the_next_one_is_sent() -> None:
    for reconcile_every in (10, 60, 300):
        for entry in queues.beat_schedule(reconcile_every).values():
            every = entry["schedule"]
            every = every if isinstance(every, float) else every.run_every.total_seconds()
            assert entry["options"]["expires"] <= every


def test_events_are_routed_by_source_and_kind() -> None:
    text = RawEvent("klaviyo", "1", "event:klaviyo.sent_sms", {})
    other = RawEvent("klaviyo", "2", "event:klaviyo.clicked_sms", {})
    ticket = RawEvent("zendesk", "3", "zen:event-type:ticket.created", {})
    assert [queues.task_for(e) for e in (text, other, ticket)] == [
        "bridge.inbound_sms", None, "bridge.zendesk_event"]
    assert queues.task_for_kind("klaviyo", "event:klaviyo.received_sms") == "bridge.received_sms"


def test_customers_texts_and_agents_comments_run_in_the_interactive_lane() -> None:
    """E6: what a person waits for never queues behind campaign notes, metrics or sweeps."""
    lane = queues.queue_for
    assert lane("bridge.inbound_sms", "event:klaviyo.sent_sms") == "zkb.interactive"
    assert lane("bridge.zendesk_event", "zen:event-type:ticket.comment_added") == \
        "zkb.interactive"
    assert lane("bridge.zendesk_event", "zen:event-type:ticket.tags_changed") == \
        "zkb.interactive"      # an agent's sms_send_now releases held replies at once (A8)
    assert lane("bridge.received_sms", "event:klaviyo.received_sms") == "zkb.background"
    assert lane("bridge.zendesk_event", "zen:event-type:ticket.created") == "zkb.background"
    assert lane("bridge.zendesk_event", "zen:event-type:ticket.status_changed") == \
        "zkb.background"
    assert lane("bridge.ticket_metric") == "zkb.background"
    assert lane("bridge.sweep") == lane("bridge.reconcile") == "zkb.maintenance"
    assert lane("bridge.zendesk_event") == "zkb.interactive"   # kind unknown: never slower


def test_the_procfile_worker_consumes_every_lane_and_the_queues_of_earlier_versions() -> None:
    worker = next(line for line in (ROOT / "Procfile").read_text().splitlines()
                  if line.startswith("worker:"))
    consumed = set(worker.split(" -Q ", 1)[1].split()[0].split(","))
    assert consumed == set(queues.QUEUES)
