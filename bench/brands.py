"""Two brands, one Zendesk (E7, #16): brand A floods while brand B's customers text at a steady
rate, on the real processes at the Team plan's limits (sandbox: 200 requests/min, 100 ticket
updates/min; the bridge's budgets at their defaults), with two brands configured (A: the
default brand, the sandbox's Klaviyo account acme; B: bolt, tests/e2e/harness.make_stack).

    .venv/bin/python -m bench.brands [--window 150] [--baseline 60] [--rate 0.5]
                                     [--b-customers 20] [--a-open 120] [--a-receipts 3000]
                                     [--a-desk 150] [--a-texts 250] [--no-doc]

Setup (not measured): A's `--a-open` customers and B's customers each open a conversation.
Baseline: B alone, quiet: B's customers text at `--rate` texts/s for `--baseline` seconds.
Flood: at its start A sends a campaign from its short code to its open-ticket customers and
`--a-receipts` others (a note on every open ticket: background lane), `--a-desk` tickets are
made in A's Zendesk brand (their Opened Ticket: a metric backlog, background lane), and A's
open-ticket customers send `--a-texts` replies spread over the window (A's interactive wave);
meanwhile B keeps texting at the same rate for `--window` seconds. Then until everything is in.

Reported: each brand's share of the Zendesk grants during the flood, by lane (the members of
`zkb:quota:zendesk:60` are `<brand>|<lane>|<id>`; members without a brand are the plain
Quota's, e.g. an agent reply's reservation), the sandbox's accepted Zendesk calls/min and 429s,
B's text latency p50/p99/max during the flood next to the quiet baseline (a text's time from
the send to the poller seeing it in the ticket; the poller reads a customer's ticket every
0.25 s while a text of theirs is pending), and B's lost / doubled / out of order texts.
Timings are only reported, never asserted (tests/e2e/test_brands.py asserts order and
exactly-once).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.report import machine, percentile, publish
from scripts.devstack import Stack
from tests.e2e.harness import (
    ACME_ZENDESK_BRAND,
    BOLT,
    BOLT_TOLL_FREE,
    SHORT_CODE,
    Bridge,
    make_stack,
    wait_for,
)

GRANTS = "zkb:quota:zendesk:60"
POLL = 0.25


@contextmanager
def brands_stack() -> Iterator[tuple[Stack, Bridge, str]]:
    """A started stack with two brands, in a temporary folder, stopped whatever happens."""
    with tempfile.TemporaryDirectory(prefix="zkb-bench-brands-") as tmp:
        stack = make_stack(Path(tmp), {"WORKER_CONCURRENCY": "4"}, brands=True)
        try:
            stack.start()
            yield stack, Bridge(stack), machine(stack.redis_url or "")
        finally:
            stack.stop()


class Landing:
    """Watches B's pending texts land in their tickets: one read of a customer's ticket per
    poll while a text of theirs is pending."""

    def __init__(self, b: Bridge, tickets: dict[str, int]) -> None:
        self.b, self.tickets = b, tickets
        self.pending: dict[tuple[str, str], float] = {}
        self.latency: dict[tuple[str, str], float] = {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sent(self, phone: str, body: str, at: float) -> None:
        with self.lock:
            self.pending[(phone, body)] = at

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                phones = {p for p, _ in self.pending}
            for phone in phones:
                bodies = {c["body"] for c in self.b.comments(self.tickets[phone])}
                now = time.time()
                with self.lock:
                    for key in [k for k in self.pending if k[0] == phone and k[1] in bodies]:
                        self.latency[key] = now - self.pending.pop(key)
            time.sleep(POLL)

    def wait_all(self, timeout: float) -> None:
        wait_for(lambda: not self.pending, timeout, "B's texts in their tickets", every=1)


class Grants:
    """Every grant of the shared Zendesk minute window, read every few seconds (a member stays
    in the window's sorted set for its 61 s)."""

    def __init__(self, b: Bridge) -> None:
        self.b, self.seen, self.stop = b, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(5):
            for member, at in self.b.redis.zrange(GRANTS, 0, -1, withscores=True):
                self.seen[member.decode()] = at

    def between(self, start: float, end: float) -> Counter:
        """Grants by (brand, lane) made in [start, end)."""
        found: Counter = Counter()
        for member, at in self.seen.items():
            if start <= at < end:
                parts = member.split("|")
                found[(parts[0], parts[1]) if len(parts) == 3 else ("(no brand)", "plain")] += 1
        return found


def steady(b: Bridge, landing: Landing, phones: list[str], rate: float, seconds: float,
           phase: str) -> list[tuple[str, str, str]]:
    """B's customers text in turn, `rate` texts a second, for `seconds`: (phone, body, ref)."""
    sent, start, n = [], time.time(), 0
    while time.time() - start < seconds:
        phone = phones[n % len(phones)]
        body = f"bolt {phase} text {n} from {phone[-4:]}"
        at = time.time()
        ref = f"klaviyo@{BOLT}:{b.text(phone, body, to=BOLT_TOLL_FREE)['event_id']}"
        landing.sent(phone, body, at)
        sent.append((phone, body, ref))
        n += 1
        time.sleep(max(0.0, start + n / rate - time.time()))
    return sent


def open_conversations(b: Bridge, phones: list[str], to: str) -> None:
    for i in range(0, len(phones), 100):
        b.text_batch([{"from": p, "to": to, "body": "hello"} for p in phones[i:i + 100]])
    wait_for(lambda: all(b.tickets_of(p, to) for p in phones), 1200, "conversations", every=2)


def a_flood(b: Bridge, args: argparse.Namespace, a_open: list[str], crowd: list[str],
            stop: threading.Event) -> None:
    """Brand A's campaign receipts and metric backlog at once, then its replies over the window."""
    b.campaign_batch(a_open + crowd, "Spring sale: 20% off", "Spring", sender=SHORT_CODE)
    for i in range(args.a_desk):
        requests.post(f"{b.sandbox}/_sandbox/zendesk/tickets", timeout=10, json={
            "requester_email": f"shopper{i}@example.com", "subject": f"Order {i}",
            "body": "Where is my order?", "brand_id": ACME_ZENDESK_BRAND}).raise_for_status()
    start, gap = time.time(), args.window / max(1, args.a_texts)
    for n in range(args.a_texts):
        if stop.is_set():
            return
        b.text(a_open[n % len(a_open)], f"acme reply {n}", to=SHORT_CODE)
        time.sleep(max(0.0, start + (n + 1) * gap - time.time()))


def check(b: Bridge, tickets: dict[str, int], texts: list[tuple[str, str]]) -> dict[str, int]:
    """B's lost, doubled and out of order texts, per customer."""
    lost = doubled = disorder = 0
    by_phone: dict[str, list[str]] = {}
    for phone, body in texts:
        by_phone.setdefault(phone, []).append(body)
    for phone, bodies in by_phone.items():
        seen = [c["body"] for c in b.comments(tickets[phone]) if c["body"] in bodies]
        lost += sum(1 for x in bodies if x not in seen)
        doubled += len(seen) - len(set(seen))
        disorder += int(seen != [x for x in bodies if x in seen])
    return {"lost": lost, "doubled": doubled, "out_of_order": disorder}


def staged(worker_log: str, refs: set[str]) -> int:
    """How many of these texts were staged for a bulk job (bulk_stage.py's log line)."""
    found = set()
    for line in worker_log.splitlines():
        if '"bulk write staged"' in line:
            found |= {ref for ref in refs if f'"{ref}"' in line}
    return len(found)


def bulk_calls(calls: dict[str, int]) -> int:
    """The bulk drainer's Zendesk calls (E6: *_many jobs and job status reads)."""
    return sum(n for k, n in calls.items() if k.startswith("zendesk ")
               and ("_many" in k or "job_statuses" in k))


def run(b: Bridge, args: argparse.Namespace, worker_log: Callable[[], str]) -> dict:
    a_open = b.make_customers(args.a_open)
    crowd = b.make_customers(args.a_receipts, first=args.a_open)
    b_phones = b.make_customers(args.b_customers, BOLT, first=50_000)
    open_conversations(b, a_open, SHORT_CODE)
    open_conversations(b, b_phones, BOLT_TOLL_FREE)
    b.settle(1200)
    tickets = {p: b.tickets_of(p, BOLT_TOLL_FREE)[0]["id"] for p in b_phones}
    landing, grants = Landing(b, tickets), Grants(b)
    quiet = steady(b, landing, b_phones, args.rate, args.baseline, "quiet")
    landing.wait_all(600)
    b.settle(600)
    quiet_lat = [landing.latency[(p, body)] for p, body, _ in quiet]
    calls0, throttled0, start = b.calls(), b.throttled().get("zendesk", 0), time.time()
    stop = threading.Event()
    flood = threading.Thread(target=a_flood, args=(b, args, a_open, crowd, stop), daemon=True)
    flood.start()
    during = steady(b, landing, b_phones, args.rate, args.window, "flood")
    end = time.time()
    calls1, throttled = b.calls(), b.throttled().get("zendesk", 0) - throttled0
    calls = {k: n - calls0.get(k, 0) for k, n in calls1.items()}
    landing.wait_all(1800)
    last_b = time.time()
    stop.set()
    flood.join(60)
    b.settle(3600)
    drained = time.time()
    landing.stop.set()
    grants.stop.set()
    log = worker_log()
    return {"quiet": quiet_lat, "flood": [landing.latency[(p, t)] for p, t, _ in during],
            "n_quiet": len(quiet), "n_flood": len(during), "window": end - start,
            "shares": grants.between(start, end), "throttled": throttled,
            "calls": sum(n for k, n in calls.items() if k.startswith("zendesk ")),
            "bulk_calls": bulk_calls(calls), "b_tail": last_b - end, "a_tail": drained - end,
            "staged_quiet": staged(log, {r for *_, r in quiet}),
            "staged_flood": staged(log, {r for *_, r in during}),
            **check(b, tickets, [(p, t) for p, t, _ in quiet + during])}


def section(about: str, args: argparse.Namespace, r: dict) -> str:
    shares: Counter = r["shares"]
    total = sum(shares.values()) or 1
    brands = sorted({brand for brand, _ in shares})
    lanes = sorted({lane for _, lane in shares})
    rows = "\n".join(
        f"| {brand} | " + " | ".join(f"{shares[(brand, lane)]}" for lane in lanes)
        + f" | {sum(shares[(brand, x)] for x in lanes)} "
          f"({sum(shares[(brand, x)] for x in lanes) / total:.0%}) |" for brand in brands)
    per_min = 60 / max(1.0, r["window"])

    def lat(values: list[float]) -> str:
        return (f"{percentile(values, 50):.2f} s / {percentile(values, 99):.2f} s / "
                f"{max(values, default=0):.2f} s")
    return f"""## Two brands, one Zendesk (`bench/brands.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.brands --window {args.window:.0f} --baseline
{args.baseline:.0f} --rate {args.rate} --b-customers {args.b_customers} --a-open {args.a_open}
--a-receipts {args.a_receipts} --a-desk {args.a_desk} --a-texts {args.a_texts}`. Sandbox at the
Team plan's limits (200 requests/min, 100 ticket updates/min), bridge budgets at their
defaults; brand A is the default brand (the sandbox's Klaviyo account acme), brand B is bolt
(`sandbox/brands.dev.toml`). Flood: A's campaign to {args.a_open} customers with an open ticket
(a note each) and {args.a_receipts} without, {args.a_desk} tickets made in A's Zendesk brand
(Opened Ticket each), {args.a_texts} replies from A's customers over the window; B's
{args.b_customers} customers text {args.rate} texts/s throughout. Baseline: B alone, quiet, at
the same rate, just before (same stack).

Zendesk grants during the flood ({r['window']:.0f} s; `zkb:quota:zendesk:60` members by brand
and lane):

| brand | {' | '.join(lanes)} | all (share) |
| --- |{' ---: |' * len(lanes)} ---: |
{rows}

| B's customer texts | quiet (baseline) | during A's flood |
| --- | ---: | ---: |
| texts | {r['n_quiet']} | {r['n_flood']} |
| latency p50 / p99 / max (send → seen in its ticket) | {lat(r['quiet'])} | {lat(r['flood'])} |

Latency: from the send to the poller seeing the text in its ticket (one read every {POLL} s
while a text is pending). Sandbox during the flood: {r['calls'] * per_min:.0f} Zendesk
calls/min ({r['throttled']} answered 429). After the flood window: B's last text in its
ticket {r['b_tail']:.0f} s later, A's backlog done (bridge idle) {r['a_tail']:.0f} s later.
Of the flood's Zendesk calls, {r['bulk_calls']} were the bulk drainer's (jobs and status reads,
carrying both brands' staged texts: they take their own turn, the row `_shared`).
B's texts lost / doubled / out of order: {r['lost']} / {r['doubled']} / {r['out_of_order']};
staged for a bulk job (E6): {r['staged_quiet']} of {r['n_quiet']} quiet, {r['staged_flood']} of
{r['n_flood']} during the flood.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--window", type=float, default=150.0)
    p.add_argument("--baseline", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=0.5, help="B's texts per second")
    p.add_argument("--b-customers", type=int, default=20)
    p.add_argument("--a-open", type=int, default=120)
    p.add_argument("--a-receipts", type=int, default=3000)
    p.add_argument("--a-desk", type=int, default=150)
    p.add_argument("--a-texts", type=int, default=250)
    p.add_argument("--no-doc", action="store_true")
    args = p.parse_args()
    with brands_stack() as (stack, b, about):
        result = run(b, args, lambda: stack.log("worker"))
    publish("brands", section(about, args, result), args.no_doc)


if __name__ == "__main__":
    main()
