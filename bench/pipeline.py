"""Pipeline benchmark: texts/s and send -> Zendesk comment latency for N texts over M customers
through the real processes (sandbox, gunicorn, celery worker and beat, redis-server), against a
same-run floor: no-op Celery tasks on a worker started from the same Procfile line.

    .venv/bin/python -m bench.pipeline [--texts 5000] [--customers 500] [--batch 50]
                                       [--rate 0] [--no-doc]

Phase "cold" sends each customer's first text (new Zendesk user + ticket), phase "warm" the
rest, round-robin over customers (comments on open tickets). The sandbox's rate limits and
the bridge's own shared budgets are raised for the run, so this measures the bridge, not
Zendesk's 200 requests/min. `--rate` paces the texts (latency below saturation).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
import requests

from bench import noop_app
from bench.report import GroupStats, group_stats, machine, percentile, publish
from scripts.devstack import Proc, Stack, procfile
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

HIGH = 1_000_000_000
# The bridge's own shared budgets (bridge/budgets.py) default to the vendors' published limits;
# raised like the sandbox's, or the run measures them. Klaviyo's 75 profile reads/s stays.
BUDGETS = {name: "1000000" for name in (
    "ZENDESK_REQUESTS_PER_MINUTE", "ZENDESK_UPDATES_PER_MINUTE", "KLAVIYO_PROFILES_PER_MINUTE",
    "KLAVIYO_EVENTS_PER_MINUTE", "KLAVIYO_MESSAGES_PER_MINUTE")}
HEADER = ("| phase | texts | commented | texts/s | p50 s | p99 s | Zendesk/text | Klaviyo/text "
          "| 429s | unordered |\n| --- |" + " ---: |" * 9)


@dataclass(frozen=True)
class Phase:
    name: str
    texts: int
    commented: int                 # texts whose comment was found in Zendesk
    seconds: float                 # first text sent -> last comment created
    latencies: list[float]         # per text, seconds
    calls: dict[str, int]          # sandbox call counters for the phase (incl. the echoes)
    throttled: int
    out_of_order: int              # customers whose comments are not in send order ("unordered")

    def per_text(self, api: str) -> float:
        return sum(n for k, n in self.calls.items() if k.startswith(api + " ")) / self.texts


def raise_limits(sandbox: str) -> dict[str, list[list[int]]]:
    """Every rate-limit bucket to 1e9 per window; returns the limits in force before."""
    before = requests.get(f"{sandbox}/_sandbox/limits", timeout=10).json()["limits"]
    for bucket, windows in before.items():
        requests.post(f"{sandbox}/_sandbox/limits", timeout=10, json={
            "bucket": bucket, "windows": [[HIGH, seconds] for _, seconds in windows]},
        ).raise_for_status()
    return before


def noop_floor(stack: Stack, count: int) -> tuple[float, float]:
    """No-op tasks/s and worker CPU ms per task: queue `count` tasks, start a worker from the
    Procfile `worker` line on them, and time from its first take to an empty queue with
    nothing unacked."""
    app = noop_app.make_app(stack.redis_url)
    r = redis.Redis.from_url(stack.redis_url)
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(noop_app.TASK, producer=producer)
    cmd = re.sub(r"-Q \S+", f"-Q {noop_app.QUEUE}",
                 procfile()["worker"].replace("workers.worker", "bench.noop_app"))
    proc = Proc("noop", ["sh", "-c", "exec " + cmd], stack.env(), stack.workdir / "noop.log")
    proc.start()
    try:
        while r.llen(noop_app.QUEUE) >= count:
            time.sleep(0.002)
        start, cpu = time.perf_counter(), group_stats(proc.popen.pid).cpu_seconds
        while r.llen(noop_app.QUEUE) or r.hlen("unacked"):
            time.sleep(0.002)
        rate = count / (time.perf_counter() - start)
        return rate, (group_stats(proc.popen.pid).cpu_seconds - cpu) * 1000 / count
    finally:
        proc.stop()


def finished(b: Bridge) -> int:
    """Texts the bridge has finished with (processed, dropped or set aside)."""
    return sum(n for k, n in b.counters().items() if k.startswith("inbound_sms:"))


def cpu_now(stack: Stack) -> dict[str, float]:
    return {g: group_stats(p.popen.pid).cpu_seconds for g, p in stack.procs.items() if p.popen}


def send_phase(b: Bridge, texts: list[tuple[str, str]], args: argparse.Namespace
               ) -> dict[str, float]:
    """Send the texts, wait until the bridge has handled them all and is idle again.
    Returns CPU seconds per process from the first send to the last text handled."""
    b.reset_calls()
    target = finished(b) + len(texts)
    cpu0, start = cpu_now(b.stack), time.time()
    for i in range(0, len(texts), args.batch):
        if args.rate:
            time.sleep(max(0.0, start + i / args.rate - time.time()))
        b.text_batch([{"from": phone, "to": TOLL_FREE, "body": body}
                      for phone, body in texts[i:i + args.batch]])
    wait_for(lambda: finished(b) >= target, args.timeout, "the bridge to handle every text")
    cpu = {g: v - cpu0.get(g, 0.0) for g, v in cpu_now(b.stack).items()}
    b.settle(args.timeout)   # the Zendesk webhooks' echoes too, so their calls are counted
    return cpu


def phase_result(name: str, texts: list[tuple[str, str]], sent: dict[str, float],
                 commented: dict[str, float], calls: dict) -> Phase:
    done = [(phone, body) for phone, body in texts if body in commented]
    lat = [commented[body] - sent[body] for _, body in done]
    by_customer: dict[str, list[str]] = defaultdict(list)
    for phone, body in done:
        by_customer[phone].append(body)
    out_of_order = sum(1 for bodies in by_customer.values()
                       if sorted(bodies, key=commented.get) != sorted(bodies, key=sent.get))
    span = max(commented[b] for _, b in done) - min(sent[b] for _, b in texts) if done else 0.0
    return Phase(name, len(texts), len(done), span, lat, calls["calls"],
                 sum(calls["throttled"].values()), out_of_order)


def zendesk_time(value: str) -> float:
    """`2026-11-25T10:12:07.672717030Z` (nanoseconds) -> unix seconds."""
    whole, frac = value.rstrip("Z").split(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + frac)


def observed_times(b: Bridge) -> tuple[dict[str, float], dict[str, float]]:
    """Text body -> when the customer sent it (Klaviyo event datetime, microseconds) and when
    its comment was created in Zendesk (the `ticket.comment_added` event time, nanoseconds;
    the comment's own `created_at` has whole seconds only)."""
    events = requests.get(f"{b.sandbox}/_sandbox/klaviyo/events", params={"metric": "Sent SMS"},
                          timeout=60).json()
    sent = {e["properties"]["Message Body"]: datetime.fromisoformat(e["datetime"]).timestamp()
            for e in events}
    commented = {}
    for d in b.deliveries("zendesk"):
        doc = json.loads(d["body"])
        if doc["type"].endswith("ticket.comment_added"):
            commented.setdefault(doc["event"]["comment"]["body"], zendesk_time(doc["time"]))
    return sent, commented


def team_plan_pace(p: Phase) -> float:
    """Texts/min Zendesk's Team plan allows at this phase's calls per text: 200 requests/min
    for the account, of which at most 100/min may update tickets (every plan)."""
    puts = p.calls.get("zendesk PUT /api/v2/tickets/{id}", 0) / p.texts
    pace = 200 / max(p.per_text("zendesk"), 0.01)
    return min(pace, 100 / puts) if puts else pace


def summary(p: Phase) -> str:
    rate = p.commented / p.seconds if p.seconds else 0.0
    return (f"| {p.name} | {p.texts:,} | {p.commented:,} | {rate:,.1f} | "
            f"{percentile(p.latencies, 50):.2f} | {percentile(p.latencies, 99):.2f} | "
            f"{p.per_text('zendesk'):.2f} | {p.per_text('klaviyo'):.2f} | {p.throttled} | "
            f"{p.out_of_order} |")


def pace_notes(args: argparse.Namespace, rate: float, floor: tuple[float, float],
               ) -> tuple[str, str, str]:
    """The section title's suffix, how the texts were sent, and how to read the rate."""
    if args.rate:
        title, pace = f", paced at {args.rate:g} texts/s", f"paced at {args.rate:g} texts/s"
        ratio = ("texts/s is the offered rate here, not a capacity (see the unpaced section); "
                 "the latency is the path of one text when nothing is queued")
    else:
        title, pace = "", "as fast as the sandbox takes them"
        ratio = (f"pipeline / floor = **{rate / floor[0]:.3f}** in rate; the latency is mostly "
                 "time queued behind the backlog, so it grows with the number of texts "
                 "(`--rate` gives a paced run)")
    return title, pace, ratio


def setup_paragraph(args: argparse.Namespace, phases: list[Phase], limits: dict,
                    pace: str) -> str:
    """What ran, how the texts were sent, and which limits were raised."""
    prod = ", ".join(f"`{k}` {'/'.join(f'{n}/{s}s' for n, s in w)}" for k, w in limits.items())
    quota = " and ".join(f"{team_plan_pace(p):.0f} texts/min {p.name}" for p in phases)
    return f"""\
Real processes from `scripts/devstack.Stack`: sandbox, gunicorn `web`, celery `worker`
(WORKER_CONCURRENCY={os.environ.get("WORKER_CONCURRENCY", "4")}, prefork), `beat`, redis-server.
{args.customers} consenting Klaviyo profiles are made first. Texts go through the sandbox's
`/_sandbox/klaviyo/inbound/batch` ({args.batch} per signed webhook delivery), {pace}. Cold =
each customer's first text (new Zendesk user and ticket); warm = the rest, round-robin over
customers (a comment each). Latency = the `ticket.comment_added` event time minus the Klaviyo
event's send time (one clock). **Every sandbox rate limit was raised to 1e9 per window**
(production: {prod}) **and so were the bridge's own shared budgets**
({", ".join(f"`{k}`" for k in BUDGETS)} = 1,000,000/min; the fixed 75 Klaviyo profile reads/s
stays): this is the bridge's own speed. On Zendesk's Team plan (200 requests/min, of which
100/min ticket updates) the quota sets the pace instead: at the calls per text below, {quota}."""


def floor_paragraph(args: argparse.Namespace, floor: tuple[float, float], ratio: str,
                    cpu: dict[str, float], texts: int) -> str:
    """The no-op floor beside the pipeline's CPU per text."""
    worker_ms = cpu["worker"] * 1000 / texts
    return f"""\
Floor, same run: {args.texts:,} no-op Celery tasks on the same Redis, on a worker started from
the same Procfile line: **{floor[0]:,.0f} tasks/s**, {floor[1]:.2f} ms of worker CPU per task;
{ratio}. Worker CPU per text: {worker_ms:.1f} ms = {worker_ms / floor[1]:.1f} no-op tasks (a
text is several tasks: its own, the Zendesk echoes of its ticket and comment, the ticket
metric, retries of tasks that find their conversation busy; and its HTTP calls). All processes
used {sum(cpu.values()) * 1000 / texts:.1f} ms of CPU per text, the sandbox included (counted
from each phase's first send to its last text handled): \
{", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())}. Load average at the end: \
{", ".join(f"{x:.2f}" for x in os.getloadavg())}."""


def resources_paragraphs(phases: list[Phase], stats: dict[str, GroupStats],
                         settle_ms: str) -> str:
    """Calls per text by endpoint, peak memory, and what INBOUND_SETTLE_MS adds."""
    calls = "; ".join(f"{p.name}: " + ", ".join(f"`{k}` {n / p.texts:.2f}"
                                               for k, n in sorted(p.calls.items()))
                      for p in phases)
    return f"""\
Calls per text by endpoint (`/_sandbox/calls`, echoes and beat included; Klaviyo profile reads
in warm are re-reads after the bridge's 60 s profile cache expires): {calls}.

Peak RSS (VmHWM summed over the process group): web {stats["web"].peak_rss_mib:.0f} MiB
({stats["web"].processes} processes), worker {stats["worker"].peak_rss_mib:.0f} MiB
({stats["worker"].processes} processes).

INBOUND_SETTLE_MS = {settle_ms}: before applying a conversation's head text a worker waits
until it is that old (since receipt), so a text sent a moment earlier in another delivery can
take its place first. It is a floor under every text's latency, and the waiting worker
process does nothing else meanwhile; texts that waited in a backlog are past it already."""


def doc_section(m: str, args: argparse.Namespace, phases: list[Phase], floor: tuple[float, float],
                settle_ms: str, limits: dict, stats: dict[str, GroupStats],
                cpu: dict[str, float]) -> str:
    texts = sum(p.commented for p in phases)
    seconds = sum(p.seconds for p in phases)
    rate = texts / seconds if seconds else 0.0
    lat = [x for p in phases for x in p.latencies]
    title, pace, ratio = pace_notes(args, rate, floor)
    return f"""## Pipeline: text -> Zendesk comment (`bench/pipeline.py`{title})

Machine: {m}.
Command: `.venv/bin/python -m bench.pipeline --texts {args.texts} --customers {args.customers} \
--batch {args.batch}{f" --rate {args.rate:g}" if args.rate else ""}`

{setup_paragraph(args, phases, limits, pace)}

{HEADER}
{chr(10).join(summary(p) for p in phases)}
| **all** | {sum(p.texts for p in phases):,} | {texts:,} | **{rate:,.1f}** | \
{percentile(lat, 50):.2f} | {percentile(lat, 99):.2f} | | | | |

{floor_paragraph(args, floor, ratio, cpu, texts)}

{resources_paragraphs(phases, stats, settle_ms)}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--texts", type=int, default=5000)
    p.add_argument("--customers", type=int, default=500)
    p.add_argument("--batch", type=int, default=50, help="texts per webhook delivery")
    p.add_argument("--rate", type=float, default=0, help="texts/s to send (0: as fast as can)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for each phase")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = p.parse_args()
    rounds = args.texts // args.customers
    texts = [(f"+1500555{4000 + c:04d}", f"Where is my order? ref {k}-{c}")
             for k in range(rounds) for c in range(args.customers)]
    with tempfile.TemporaryDirectory(prefix="zkb-bench-") as tmp:
        stack = Stack(workdir=Path(tmp), extra_env=BUDGETS)
        try:
            stack.start()
            b = Bridge(stack)
            m = machine(stack.redis_url)
            limits = raise_limits(stack.sandbox_url)
            floor = noop_floor(stack, args.texts)
            b.make_customers(args.customers)
            calls, cpu = [], defaultdict(float)
            for part in (texts[:args.customers], texts[args.customers:]):
                for g, used in send_phase(b, part, args).items():
                    cpu[g] += used
                calls.append(requests.get(f"{b.sandbox}/_sandbox/calls", timeout=10).json())
            stats = {g: group_stats(stack.procs[g].popen.pid) for g in ("web", "worker")}
            sent, commented = observed_times(b)
            settle_ms = stack.env().get("INBOUND_SETTLE_MS") or "300 (default)"
        finally:
            stack.stop()
    phases = [phase_result("cold", texts[:args.customers], sent, commented, calls[0]),
              phase_result("warm", texts[args.customers:], sent, commented, calls[1])]
    section = doc_section(m, args, phases, floor, settle_ms, limits, stats, cpu)
    publish("pipeline-paced" if args.rate else "pipeline", section, args.no_doc)


if __name__ == "__main__":
    main()
