"""Failed jobs (E2): list them, look at one, forget them, and replay them safely.

An event that fails permanently, or `MAX_ATTEMPTS` times, is set aside by the Runner (state
"failed", out of its ordered queue, an entry in `zkb:failed`). Replay makes it runnable again
and publishes its task; the entry stays until the job succeeds, when the Runner clears it, so a
replay that fails again is still listed (with its new attempts and error).

Replay is safe because every task is idempotent (E1): an event already applied is left alone, a
replayed text that had in fact landed is recognised by its intent record, and a reply whose
outcome is unknown (A6) is never replayed, since it may already be on the customer's phone.

What these functions return is for people (CLI, /ops page): phone numbers and emails are masked
(`domain.redact.scrub`) and the event itself is summarised in one short line.

Brands (E7, #16): every failed job names its brand (`brand` in its entry; an entry written before
brands has none and is the default brand's). Listing, replay and purge take a brand to act on
that brand's jobs only, and whatever they do to one job runs in its brand's scope: a refused
metric event is kept under its brand's keys (`zkb:metrics:failed`, brand-scoped), so a replay
or purge made outside that scope would not find it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bridge.domain.brand_scope import DEFAULT, brand_of, scope, source_of
from bridge.domain.redact import scrub
from bridge.payloads.klaviyo_events import (
    RECEIVED_SMS,
    SENT_SMS,
    EventShapeError,
    parse_delivered_sms,
    parse_inbound_sms,
)
from bridge.payloads.whatsapp import SENT_WHATSAPP
from bridge.payloads.zendesk_events import COMMENT_ADDED, STATUS_CHANGED, event_type, ticket_id
from bridge.ports import StorePort

EXCERPT = 60
# Errors whose jobs a replay must not run again (none today: ReplyOutcomeUnknown's replay looks
# for the reply first, A6).
NOT_REPLAYABLE: dict[str, str] = {}

METRIC_REFS = "metric:"     # metric events Klaviyo refused in a bulk call (handlers.metric_burst)
OLD_BULK_REFS = "metrics:bulk:inflight:"   # whole refused batches, recorded by older versions
Enqueue = Callable[[str, str], None]
TaskForKind = Callable[[str, str], str | None]


def list_failed(store: StorePort, source: str | None = None,
                since: datetime | float | None = None,
                brand: str | None = None) -> list[dict[str, Any]]:
    """Failed jobs, oldest first, optionally only one source's, one brand's or those failing
    since a time.

    Each is the stored entry (`ref, source, brand, task, error, message, attempts,
    first_failure, last_failure`, message masked; `brand` filled in for entries written before
    brands) plus the event's current `state` and `kind`."""
    after = _timestamp(since)
    entries = [{**e, "brand": entry_brand(e)} for e in store.outcomes.failed().values()]
    entries = [e for e in entries
               if (source is None or e.get("source") == source)
               and (brand is None or e["brand"] == brand)
               and (after is None or float(e.get("last_failure") or 0) >= after)]
    entries.sort(key=lambda e: (float(e.get("first_failure") or 0), e.get("ref", "")))
    fields = store.events.event_fields([e["ref"] for e in entries], "state", "kind")
    return [{**_masked(e), "state": f.get("state"), "kind": f.get("kind")}
            for e, f in zip(entries, fields, strict=True)]


def entry_brand(entry: dict[str, Any]) -> str:
    """The brand of a failed-job entry: its `brand`, else the one its ref names (an entry of
    before brands: the default)."""
    return str(entry.get("brand") or brand_of(str(entry.get("ref") or "")))


def job_brand(store: StorePort, ref: str) -> str:
    """The brand whose scope a job's replay, purge or details run in."""
    entry = store.outcomes.failed_entry(ref)
    return entry_brand(entry) if entry else brand_of(ref)


def get_failed(store: StorePort, ref: str) -> dict[str, Any] | None:
    """One failed job with its event: `state`, `kind`, `attempts` (the event's counter, the
    failure's while it is set aside), `last_error`, `received_at`, `queue` and a masked
    one-line `summary`. None if `ref` is not in failed jobs."""
    entry = store.outcomes.failed_entry(ref)
    if entry is None:
        return None
    entry = {**entry, "brand": entry_brand(entry)}
    if ref.startswith((METRIC_REFS, OLD_BULK_REFS)):
        with scope(entry["brand"]):
            return {**_masked(entry), "state": "failed", "kind": "metric", "summary":
                    _metric_summary(store.metric_buffer.set_aside_event(ref))}
    event = store.events.load_event(ref)
    out = _masked(entry)
    if event is None:
        return {**out, "state": None, "kind": None, "last_error": None, "received_at": None,
                "queue": None, "summary": "(the event is no longer stored; it cannot be "
                                         "replayed)"}
    return {**out, "state": event.get("state"), "kind": event.get("kind"),
            "attempts": int(event.get("attempts") or entry.get("attempts") or 0),
            "last_error": scrub(event.get("last_error") or "") or None,
            "received_at": float(event["received_at"]) if event.get("received_at") else None,
            "queue": _masked_queue(event.get("queue")),
            "summary": summarize(event.get("kind") or "", event.get("data") or {})}


def purge(store: StorePort, refs: list[str] | None = None, brand: str | None = None,
          brands: tuple[str, ...] = ()) -> int:
    """Forget failed jobs: `refs`, else all (only `brand`'s, when given). Their events are not
    replayed or deleted, they just leave the list; a purged metric event is dropped from its
    brand's set-aside events (a purge of all: every brand's, those of `brands` included).
    Returns how many entries were removed."""
    if refs is None:
        jobs = store.outcomes.failed()
        names = {brand} if brand else {DEFAULT, *brands, *map(entry_brand, jobs.values())}
        for name in names:
            with scope(name):
                store.metric_buffer.forget(None)
        mine = None if brand is None else [r for r, e in jobs.items() if entry_brand(e) == brand]
        return store.outcomes.forget_failures(mine)
    by_brand: dict[str, list[str]] = {}
    for ref in refs:
        by_brand.setdefault(job_brand(store, ref), []).append(ref)
    for name, named in by_brand.items():
        with scope(name):
            store.metric_buffer.forget([r for r in named if r.startswith(METRIC_REFS)])
    return store.outcomes.forget_failures(refs)


def replay(store: StorePort, ref: str, enqueue: Enqueue, task_for_kind: TaskForKind,
           now: Callable[[], float] = time.time) -> str:
    """Make one set-aside event runnable again and publish its task, in its brand's scope;
    says what was done."""
    with scope(job_brand(store, ref)):
        return _replay(store, ref, enqueue, task_for_kind, now)


def _replay(store: StorePort, ref: str, enqueue: Enqueue, task_for_kind: TaskForKind,
            now: Callable[[], float]) -> str:
    if ref.startswith((METRIC_REFS, OLD_BULK_REFS)):
        return _replay_metric(store, ref)
    event = store.events.load_event(ref)
    if event is None:
        return (f"{ref}: not replayed; the event is no longer stored (events are kept "
                f"{store.event_ttl // 86400} days)")
    state, kind = event.get("state"), event.get("kind") or ""
    if state in ("done", "dropped"):
        how = "applied" if state == "done" else f"dropped ({event.get('reason') or 'no reason'})"
        hint = "; purge it to clear the list" if store.outcomes.failed_entry(ref) else ""
        return f"{ref}: already {how}; nothing changed{hint}"
    entry = store.outcomes.failed_entry(ref) or {}
    if entry.get("error") in NOT_REPLAYABLE:
        return f"{ref}: not replayed; {NOT_REPLAYABLE[entry['error']]}"
    task = task_for_kind(source_of(ref), kind)
    if task is None:
        return f"{ref}: not replayed; no task handles events of kind {kind!r}"
    if state != "failed":
        # Waiting or running (e.g. replayed a moment ago): publishing again is harmless.
        enqueue(task, ref)
        store.events.mark_queued([ref])
        return f"{ref}: already waiting to be processed (state {state}); its task was " \
               f"published again"
    if not store.events.reopen_event(ref, now()):
        return f"{ref}: not replayed; the event expired just now"
    try:
        enqueue(task, ref)
    except Exception as e:  # noqa: BLE001 - the broker's errors vary; the sweep covers them
        return (f"{ref}: made runnable again, but publishing its task failed "
                f"({type(e).__name__}); the sweep publishes it within a minute")
    store.events.mark_queued([ref])
    where = " and back in its conversation's queue" if event.get("queue") else ""
    return (f"{ref}: replayed: attempts reset to 0{where}, task {task} published; it leaves "
            f"failed jobs once it succeeds")


def replay_many(store: StorePort, enqueue: Enqueue, task_for_kind: TaskForKind,
                source: str | None = None, since: datetime | float | None = None,
                brand: str | None = None) -> list[str]:
    """Replay every failed job (or one source's, one brand's, or those failing since a time),
    oldest first."""
    return [replay(store, e["ref"], enqueue, task_for_kind)
            for e in list_failed(store, source, since, brand)]


def _replay_metric(store: StorePort, ref: str) -> str:
    if store.metric_buffer.park_again(ref):
        return (f"{ref}: replayed: the metric event waits for the next bulk flush; it leaves "
                f"failed jobs once Klaviyo takes it")
    return (f"{ref}: not replayed; its events were not kept (a whole bulk batch refused by an "
            f"older version); purge it")


def _metric_summary(raw: str | None) -> str:
    if raw is None:
        return "(a bulk batch whose events were not kept; it cannot be replayed)"
    try:
        doc = json.loads(raw)
        return f"{doc['metric']} of ticket {doc['ticket_id']} (unique_id {doc['unique_id']})"
    except (ValueError, KeyError, TypeError):
        return "metric event (malformed)"


def summarize(kind: str, data: dict[str, Any]) -> str:
    """One short line saying what the event was, with phone numbers and emails masked."""
    try:
        if kind in (SENT_SMS, SENT_WHATSAPP):        # a text, or a WhatsApp message (S9)
            sms = parse_inbound_sms(data)
            what = "WhatsApp message" if kind == SENT_WHATSAPP else "text"
            return scrub(f"{what} from {sms.customer_phone or 'an unknown number'} to "
                         f"{sms.brand_number}: {_excerpt(sms.body, sms.media_count)}")
        if kind == RECEIVED_SMS:
            sms2 = parse_delivered_sms(data)
            origin = (f"campaign {sms2.campaign!r}" if sms2.campaign
                      else f"flow {sms2.flow!r}" if sms2.flow else "a conversation reply")
            return scrub(f"SMS from {origin} to {sms2.customer_phone or 'an unknown number'}: "
                         f"{_excerpt(sms2.body, 0)}")
    except (EventShapeError, AttributeError, TypeError):
        return f"{kind or 'event'} (malformed)"
    etype = event_type(data)
    if etype:
        return scrub(_zendesk_summary(etype, data))
    return kind or "event"


def _zendesk_summary(etype: str, data: dict[str, Any]) -> str:
    text = f"{etype} on ticket {ticket_id(data) or '?'}"
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    if etype == COMMENT_ADDED:
        comment = event.get("comment") if isinstance(event.get("comment"), dict) else {}
        public = "public reply" if comment.get("is_public") else "internal note"
        text += f": {public} {comment.get('id', '?')}: {_excerpt(str(comment.get('body') or ''))}"
    elif etype == STATUS_CHANGED:
        text += f": {event.get('previous') or '?'} -> {event.get('current') or '?'}"
    return text


def _excerpt(body: str, media: int = 0) -> str:
    flat = " ".join(body.split())
    short = flat if len(flat) <= EXCERPT else flat[:EXCERPT - 1] + "…"
    extra = f" (+{media} media)" if media else ""
    return (f"“{short}”" if short else "(no text)") + extra


def _masked(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "message": scrub(str(entry.get("message") or ""))}


def _masked_queue(queue: str | None) -> str | None:
    return scrub(queue) if queue else None


def _timestamp(since: datetime | float | None) -> float | None:
    if since is None:
        return None
    return since.timestamp() if isinstance(since, datetime) else float(since)
