"""Celery tasks: each one runs one handler from `bridge/`. Retries, the Redis-outage wait and
retry metrics come from their base, `BridgeTask` (workers/base.py); where each task runs is in
workers/queues.py.

Tasks take JSON primitives (an event ref such as "klaviyo:01J...", a ticket id), never personal
data. Handlers' dependencies are built once per worker process (workers/deps.py). The tasks are
`shared_task`s: they join the app of the process that imports them (workers/worker.py).
"""

from __future__ import annotations

import time

from celery import shared_task

from bridge import bootstrap
from bridge.brands import brand_for_ticket
from bridge.budgets import background_lane, shared_work
from bridge.domain.brand_scope import DEFAULT, brand_of, scope
from bridge.handlers import bulk_drain, metric_burst
from bridge.handlers.campaign_note import runner as campaign_runner
from bridge.handlers.open_sms_rebuild import rebuild_if_lost
from bridge.handlers.reconcile import reconcile as run_reconcile
from bridge.handlers.runner import Done
from bridge.handlers.sms_inbound import handle_inbound
from bridge.handlers.sweep import sweep as run_sweep
from bridge.handlers.ticket_event import handle_ticket_event
from bridge.handlers.ticket_metric import record_metric
from workers import deps
from workers.base import BridgeTask
from workers.brand_routing import ticket_event_brand
from workers.queues import QUEUES, enqueue, task_for_kind
from workers.release import release


# Every task runs as one brand's work (E7): a Klaviyo event's brand is in its ref
# (`klaviyo@<brand>:<id>`), a Zendesk event's comes from its ticket (workers/brand_routing.py).
@shared_task(base=BridgeTask, name="bridge.inbound_sms", bind=True, acks_late=True)
def inbound_sms(self: BridgeTask, ref: str) -> str:
    """A customer's text (Klaviyo sent_sms) -> Zendesk ticket or comment."""
    with scope(brand_of(ref)) as brand:
        return handle_inbound(ref, deps.inbound_deps(brand))


@shared_task(base=BridgeTask, name="bridge.zendesk_event", bind=True, acks_late=True)
def zendesk_event(self: BridgeTask, ref: str) -> str:
    """A Zendesk ticket event (created / comment added / status changed)."""
    with scope(ticket_event_brand(ref)) as brand:
        return handle_ticket_event(ref, deps.ticket_event_deps(brand))


@shared_task(base=BridgeTask, name="bridge.received_sms", bind=True, acks_late=True)
def received_sms(self: BridgeTask, ref: str) -> str:
    """An SMS reached a customer (Klaviyo received_sms): campaign/flow -> note on the ticket."""
    with background_lane(), scope(brand_of(ref)) as brand:
        return campaign_runner(deps.campaign_deps(brand)).run_event(ref)


@shared_task(base=BridgeTask, name="bridge.ticket_metric", bind=True, acks_late=True)
def ticket_metric(self: BridgeTask, ticket_id: int, metric: str, when: str,
                  brand: str = DEFAULT) -> str:
    """Record one Opened/Resolved Ticket the catch-up sweep found missing (M4), on the
    account of the ticket's brand (messages from before E7 name none: the default brand)."""
    with background_lane(), scope(brand):
        done = record_metric(ticket_id, metric, when, deps.ticket_event_deps(brand).metrics)
        return _counted(done)                    # counted as the brand's (E7)


def _counted(done: Done) -> str:
    if done.outcome == "applied":
        deps.count("ticket_metric", "processed", "sweep")
    else:
        deps.count("ticket_metric", "dropped", done.reason)
    return f"{done.outcome}:{done.reason}"


@shared_task(base=BridgeTask, name="bridge.reconcile", bind=True, acks_late=True,
             periodic=True)
def reconcile(self: BridgeTask) -> dict[str, int]:
    """Page Zendesk's incremental export for creations/closures webhooks missed (beat)."""
    def ask(ticket_id: int, metric: str, when: str, brand_id: int | None) -> None:
        brand = brand_for_ticket(deps.brands(), brand_id).name
        self.app.send_task("bridge.ticket_metric", args=[ticket_id, metric, when],
                           kwargs={"brand": brand} if brand != DEFAULT else None)

    with background_lane():
        return run_reconcile(bootstrap.reconcile_deps(deps.settings(), deps.store(), ask),
                             time.time())


@shared_task(base=BridgeTask, name="bridge.flush_metrics", bind=True, acks_late=True,
             periodic=True)
def flush_metrics(self: BridgeTask) -> int:
    """Send metric events parked during a burst through the bulk endpoint (beat, within 5 s of
    an event being parked; see workers/beat.py)."""
    sent = 0
    for brand in deps.brands():         # each brand's buffer goes to its own account (E7)
        with scope(brand.name):
            metrics = deps.ticket_event_deps(brand.name).metrics
            sent += metric_burst.flush(metrics.store, metrics.klaviyo,
                                       support_property=metrics.support_property)
    return sent


@shared_task(base=BridgeTask, name="bridge.sweep", bind=True, acks_late=True, periodic=True)
def sweep(self: BridgeTask) -> dict[str, int]:
    """Re-queue stranded events and conversations (beat, every 30 s)."""
    store = deps.store()
    with background_lane():
        rebuild_if_lost(bootstrap.open_sms_rebuild_deps(deps.settings(), deps.store()))  # E6
    deps.store().outcomes.prune_failed()          # failed jobs whose events expired (E6)
    return run_sweep(store, lambda task, ref: enqueue(self.app, task, ref), time.time(),
                     task_for_kind, in_broker=lambda refs: store.broker.holding(refs, QUEUES)
                     | store.due.holding(refs))


@shared_task(base=BridgeTask, name="bridge.release_due", bind=True, acks_late=True,
             periodic=True)
def release_due(self: BridgeTask) -> int:
    """Publish the refs whose wait in `zkb:due` ends within RELEASE_AHEAD seconds, each with the
    short countdown left (beat, when one is due: workers/beat.py `WhenDue`)."""
    return release(deps.store(), lambda task, ref, countdown: self.app.send_task(
        task, args=[ref], countdown=countdown), time.time(), task_for_kind)


@shared_task(base=BridgeTask, name="bridge.bulk_writes", bind=True, acks_late=True,
             periodic=True)
def bulk_writes(self: BridgeTask) -> dict[str, int]:
    """Pack texts staged under a backlog into Zendesk bulk jobs, follow the jobs, wake each
    text with its answer (E6; beat, every second while texts wait to be packed, every 2 s while
    only jobs are in flight: workers/beat.py `WhenStaged`)."""
    with shared_work():                  # every brand's texts: its own turn (E7)
        return bulk_drain.drain(deps.bulk_deps())
