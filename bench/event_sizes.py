"""Bytes of Redis an event costs (E6 compact storage), for the README's sizing formula.

Starts its own redis-server (no persistence) on a free port and stores 10,000 events of each
shape through the bridge's own EventLog, reading `used_memory` before and after:

- a campaign receipt the receiver drops (no open SMS ticket): id + outcome only;
- the same receipt stored whole, as every event was before #11 (the baseline);
- a receipt and a customer's text once processed (settled: id + outcome only);
- a customer's text waiting for its worker (body, state, its place in its conversation queue).

    .venv/bin/python -m bench.event_sizes [--events 10000] [--no-doc]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import time

import redis

from bench.report import machine, publish
from bridge.adapters.store import Store
from bridge.domain.model import RawEvent
from bridge.payloads.routes import queue_of
from scripts.devstack import redis_server_binary
from tests.factories import raw_event, received_sms, sent_sms

BATCH = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def receipts(n: int) -> list[RawEvent]:
    return [raw_event(received_sms(f"Spring sale {i}: 20% off everything this weekend. "
                                   "Reply STOP to opt out", customer=f"+1500555{i % 10000:04d}",
                                   campaign="Spring", event_id=f"01JRCPT{i:08d}"))
            for i in range(n)]


def texts(n: int) -> list[RawEvent]:
    return [raw_event(sent_sms(f"Where is my order number {i}? It was due on Monday.",
                               customer=f"+1500555{i % 10000:04d}", event_id=f"01JTEXT{i:08d}"))
            for i in range(n)]


def per_event(r: redis.Redis, store: Store, events: list[RawEvent], how: str) -> float:
    r.flushall()
    before = r.info("memory")["used_memory"]
    for i in range(0, len(events), BATCH):
        batch = events[i:i + BATCH]
        if how == "dropped":
            store.events.save_dropped(batch, time.time(), "bench:dropped", "no_open_ticket")
            continue
        store.events.save_events(batch, time.time(), route=queue_of)
        store.events.mark_queued([e.ref for e in batch])
        if how == "settled":
            for e in batch:
                store.events.settle_event(e.ref, "done", "applied", "", time.time())
                store.queues.remove_pending(*_queue_member(r, e))
    return (r.info("memory")["used_memory"] - before) / len(events)


def _queue_member(r: redis.Redis, e: RawEvent) -> tuple[str, str]:
    where = queue_of(e)
    if where is None:
        return "none", "none"
    member = next((m.decode() for m in r.zrange(f"zkb:convq:{where[0]}", 0, -1)
                   if m.decode().endswith(e.ref)), "none")
    return where[0], member


def measure(r: redis.Redis, n: int) -> dict[str, float]:
    """Bytes per event of each shape, each measured on the same server in one run."""
    store = Store(r)
    return {"receipt dropped at the receiver (id + outcome)":
            per_event(r, store, receipts(n), "dropped"),
            "receipt stored whole (before #11: every event, 14 days)":
            per_event(r, store, receipts(n), "whole"),
            "receipt processed (settled: id + outcome)":
            per_event(r, store, receipts(n), "settled"),
            "text waiting for its worker (body, state, queue place)":
            per_event(r, store, texts(n), "whole"),
            "text processed (settled: id + outcome)":
            per_event(r, store, texts(n), "settled")}


def report(sizes: dict[str, float], n: int, url: str, print_only: bool) -> None:
    rows = "\n".join(f"| {what} | {b:.0f} |" for what, b in sizes.items())
    baseline = sizes["receipt stored whole (before #11: every event, 14 days)"]
    dropped = sizes["receipt dropped at the receiver (id + outcome)"]
    publish("event-sizes", f"""
## Redis bytes per event (`bench/event_sizes.py`)

{machine(url)}. `.venv/bin/python -m bench.event_sizes --events {n}`: `used_memory` delta ÷
events, each shape stored through the bridge's EventLog (key, hash, TTL, sets included).

| Event | bytes |
| --- | ---: |
{rows}

A receipt the receiver drops costs {dropped / baseline:.2f}× what the same receipt stored whole
cost before (baseline, same run), and for DEDUP_WINDOW_SECONDS (3 days) instead of 14 days.
""", print_only=print_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(50):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        report(measure(r, args.events), args.events, f"redis://127.0.0.1:{port}/0",
               args.no_doc)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
