"""Campaign day (E6): a campaign's receipts, then a flood of replies with control customers,
on the real processes at the Team plan's limits (sandbox: 200 requests/min, 100 updates/min,
30 jobs; the bridge's budgets at their defaults).

    .venv/bin/python -m bench.campaign [--recipients 50000] [--replies 2000] [--new-share 0.6]
                                       [--window 300] [--agent-replies 50] [--scale 1.0]
                                       [--modes on,off] [--no-doc]

Phase 1, receipts: a campaign from the short code to every recipient, a few with an open SMS
ticket (they get a note). Zendesk calls per receipt, Redis bytes kept per processed receipt
(`used_memory` delta ÷ receipts, after the bridge is idle), receipts queued as tasks.
Phase 2, replies: `--replies` texts spread over `--window` seconds (a share from new
conversations), agent replies on some tickets, and control customers (ten with an open SMS
ticket, texting in turn: one text every 3 s in all, each customer every 30 s, under Zendesk's
30 updates per ticket per 10 minutes) from the first reply until the last text is in its
ticket. Backlog tail (last reply sent → last text in its ticket), Zendesk calls per text, text
latency p50/p99, the control customers' p99 during the flood next to their p99 measured quiet
just before (the baseline), Redis peak memory, text latency p50/p99 (Zendesk's comment time -
send time), and lost / doubled / out of order texts. It also prints the control texts'
latencies in order and, from the worker's log, how many of them waited for a bulk job and
where that time went (to be packed, in the job, until their task took the answer).

The whole run is made twice in one invocation, each on a fresh stack: with bulk writes on
(`ZENDESK_BULK_WRITES=true`: a backlog drains through update_many / create_many jobs, E6) and
off (the baseline: one call per text, waiting for the budget); the backlog tails are printed
side by side with their ratio. `--scale 0.02` shrinks recipients, replies, agent replies and the
window together for a smoke run (figures then say nothing about the targets).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.report import percentile, publish
from bench.stack import bench_stack
from tests.e2e.harness import SHORT_CODE, TOLL_FREE, Bridge, wait_for

# The control customers (each with an open SMS ticket) text in turn, one text every
# CONTROL_EVERY seconds in all, so each one texts every CONTROLS x CONTROL_EVERY = 30 s: Zendesk
# takes at most 30 updates per ticket per 10 minutes [doc], and a single customer texting every
# 3 s would meet that limit (a 429 for minutes), not the bridge's handling of the flood.
CONTROL_EVERY = 3.0
CONTROLS = 10


class Watch:
    """Peak Redis memory, sampled every half second while the flood runs."""

    def __init__(self, b: Bridge) -> None:
        self.b, self.peak, self.stop = b, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, int(self.b.redis.info("memory")["used_memory"]))
            time.sleep(0.5)


def by_phone(b: Bridge) -> dict[str, list[dict]]:
    """Every SMS ticket by its customer's phone, from one listing (the harness's `tickets_of`
    lists every ticket per call: thousands of phones made the checks take many minutes)."""
    out: dict[str, list[dict]] = {}
    for t in sorted(b.tickets(), key=lambda t: t["id"]):
        ext = t.get("external_id") or ""
        if ext.startswith("zkb-sms:") and ext.endswith(f":{TOLL_FREE}"):
            out.setdefault(ext.removeprefix("zkb-sms:").removesuffix(f":{TOLL_FREE}"),
                           []).append(t)
    return out


def landed(b: Bridge, phone: str, body: str) -> bool:
    """One read of the customer's tickets (`?external_id=`, comments included)."""
    return any(c["body"] == body for t in b.tickets_of(phone) for c in t["comments"])


def latency(b: Bridge, phone: str, ticket: int, body: str, timeout: float) -> float:
    """A control text's time from send until it is a comment on the customer's ticket (read
    every 0.1 s from that one ticket, so the probe itself does not load the sandbox)."""
    sent = time.time()
    b.text(phone, body)
    wait_for(lambda: any(c["body"] == body for c in b.comments(ticket)), timeout,
             "the control text", every=0.1)
    return time.time() - sent


def receipts_phase(b: Bridge, recipients: list[str], with_ticket: list[str]) -> dict:
    b.settle(3600)
    b.reset_calls()
    before, queued0 = b.redis.info("memory")["used_memory"], task_count(b)
    sent = b.campaign_batch(recipients, "Spring sale: 20% off everything this weekend",
                            "Spring", sender=SHORT_CODE)
    notes = "Klaviyo flow 'Spring' sent: Spring sale: 20% off everything this weekend"
    wait_for(lambda: all(any(c["body"] == notes for t in b.tickets_of(p)
                             for c in b.comments(t["id"])) for p in with_ticket), 3600, "notes")
    b.settle(3600)
    calls = b.zendesk_calls()
    return {"receipts": sent["sent"], "calls": calls, "per_receipt": calls / sent["sent"],
            "bytes": (b.redis.info("memory")["used_memory"] - before) / sent["sent"],
            "tasks": task_count(b) - queued0}


def control_trace(worker_log: str, tickets: set[int]) -> dict:
    """Where the control customers' staged texts spent their time, from the worker's
    `zkbridge.bulk` lines (bridge/handlers/bulk_stage.py, bulk_inbound.py): how many of its
    texts were staged (and why), and for those, seconds waiting to be packed, in the job until
    the drainer read the answer, and until the text's task took it."""
    staged: dict[str, int] = {}
    waits: dict[str, list[float]] = {"packed_after": [], "in_job": [], "taken_after": []}
    for line in worker_log.splitlines():
        if '"bulk write' not in line:
            continue
        try:
            doc = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if doc.get("ticket_id") not in tickets:
            continue
        if doc.get("msg") == "bulk write staged":
            staged[doc.get("why", "?")] = staged.get(doc.get("why", "?"), 0) + 1
        elif doc.get("msg") == "bulk write answered":
            for k, v in waits.items():
                v.append(float(doc.get(k) or 0))
    return {"staged": staged, **waits}


def task_count(b: Bridge) -> int:
    return sum(n for k, n in b.counters().items() if k.startswith("received_sms:")
               and not k.endswith("receipt_without_ticket"))


def flood_phase(b: Bridge, texts: list[tuple[str, str]], controls: dict[str, int],
                window: float, agent_tickets: list[int]) -> dict:
    b.reset_calls()
    watch = Watch(b)
    watch.thread.start()
    control_lat: list[float] = []
    stop = threading.Event()

    def control_loop() -> None:
        turns = list(controls.items())
        i = 0
        while not stop.is_set():
            phone, ticket = turns[i % len(turns)]
            control_lat.append(latency(b, phone, ticket, f"control during flood {i}", 900))
            i += 1
            time.sleep(CONTROL_EVERY)

    ctl = threading.Thread(target=control_loop, daemon=True)
    ctl.start()
    start, sent_at = time.time(), {}
    gap = window / max(1, len(texts))
    for n, (phone, body) in enumerate(texts):
        sent_at[(phone, body)] = time.time()
        b.text(phone, body)
        if n < len(agent_tickets):
            b.reply(agent_tickets[n], f"Agent answer {n}")
        time.sleep(max(0.0, start + (n + 1) * gap - time.time()))
    last_sent = time.time()
    wait_for(lambda: all(landed(b, p, t) for p, t in texts[-20:]), 7200, "the backlog",
             every=0.5)
    tail = time.time() - last_sent          # the texts are in; what follows is ticket metrics
    stop.set()                              # the flood is over: so is "during the flood"
    ctl.join(900)
    b.settle(7200)
    watch.stop.set()
    calls = {k: n for k, n in b.calls().items() if k.startswith("zendesk ")}
    print("zendesk calls by endpoint:", dict(sorted(calls.items(), key=lambda kv: -kv[1])),
          flush=True)
    bulk_calls = sum(n for k, n in calls.items() if "_many" in k)
    return {"tail": tail, "calls": sum(calls.values()), "bulk_calls": bulk_calls,
            "reads": sum(n for k, n in calls.items() if k.startswith("zendesk GET /api/v2/tickets/")
                         and "many" not in k and "comments" not in k),
            "control": control_lat, "latency": text_latencies(b, sent_at),
            "peak": watch.peak, **check(b, texts)}


def check(b: Bridge, texts: list[tuple[str, str]]) -> dict:
    """Lost, doubled and out of order texts, per customer."""
    lost = doubled = disorder = 0
    sent: dict[str, list[str]] = {}
    for phone, body in texts:
        sent.setdefault(phone, []).append(body)
    tickets = by_phone(b)
    for phone, bodies in sent.items():
        seen = [c["body"] for t in tickets.get(phone, []) for c in b.comments(t["id"])
                if c["body"] in bodies]
        lost += sum(1 for x in bodies if x not in seen)
        doubled += len(seen) - len(set(seen))
        disorder += int([x for x in seen if x in bodies] != [x for x in bodies if x in seen])
    return {"lost": lost, "doubled": doubled, "out_of_order": disorder}


def text_latencies(b: Bridge, sent_at: dict[tuple[str, str], float]) -> list[float]:
    """Each text's time from send to its comment in Zendesk (the comment's `created_at`)."""
    out = []
    tickets = by_phone(b)
    for phone in {p for p, _ in sent_at}:
        for t in tickets.get(phone, []):
            for c in b.comments(t["id"]):
                sent = sent_at.get((phone, c["body"]))
                if sent is not None:
                    made = datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
                    out.append(max(0.0, made.timestamp() - sent))   # whole seconds
    return out


def run(b: Bridge, args: argparse.Namespace, worker_log: Callable[[], str]) -> dict:
    new = int(args.replies * args.new_share)
    phones = b.make_customers(args.recipients + CONTROLS)
    control, recipients = phones[:CONTROLS], phones[CONTROLS:]
    existing = recipients[: args.replies - new]
    for p in [*control, *existing]:
        b.text(p, "hello")
    wait_for(lambda: all(b.tickets_of(p) for p in [*control, *existing]), 1800, "tickets",
             every=2)
    controls = {p: b.tickets_of(p)[0]["id"] for p in control}
    b.settle(3600)                          # quiet: nothing else in flight
    quiet = [latency(b, p, t, "control quiet", 300) for p, t in controls.items()]
    receipts = receipts_phase(b, recipients, existing[:20])
    texts = [(p, f"reply from {p}") for p in existing + recipients[len(existing):][:new]]
    agent = [b.tickets_of(p)[0]["id"] for p in existing[: args.agent_replies]]
    flood = flood_phase(b, texts, controls, args.window, agent)
    trace = control_trace(worker_log(), set(controls.values()))
    print("control latencies in order (s):", [round(x, 1) for x in flood["control"]], flush=True)
    print(f"control: {len(flood['control'])} texts during the flood, staged {trace['staged']};"
          + "".join(f" {k} p50/max {percentile(v, 50):.1f}/{max(v):.1f} s;"
                    for k, v in trace.items() if k != "staged" and v), flush=True)
    return {"quiet": quiet, "receipts": receipts, "n_texts": len(texts), "trace": trace,
            **flood}


def section(about: str, args: argparse.Namespace, runs: dict[str, dict]) -> str:
    on, off = runs.get("on"), runs.get("off")
    ratio = f"{off['tail'] / max(on['tail'], 0.001):.1f}x" if on and off else "n/a"
    first = next(iter(runs.values()))
    rc = first["receipts"]
    cols = list(runs)
    head = " | ".join(f"bulk writes {m}" for m in cols)
    return f"""## Campaign day (`bench/campaign.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.campaign --recipients {args.recipients} --replies
{args.replies} --new-share {args.new_share} --window {args.window} --agent-replies
{args.agent_replies} --scale {args.scale}`. Sandbox at the Team plan's limits, bridge budgets at
their defaults; each mode on a fresh stack, in one invocation (`off` is the baseline).

| receipts (phase 1, bulk writes {cols[0]}) | |
| --- | ---: |
| receipts | {rc['receipts']} |
| Zendesk calls, all told (notes on open tickets included) | {rc['calls']} |
| Zendesk calls per receipt (target ≤ 0.01) | {rc['per_receipt']:.4f} |
| receipt tasks queued (only recipients with an open SMS ticket) | {rc['tasks']} |
| Redis bytes kept per processed receipt (target ≤ 300) | {rc['bytes']:.0f} |

| replies (phase 2) | {head} |
| --- |{' ---: |' * len(cols)}
{_rows(runs, args)}

Backlog tail, off ÷ on (target ≥ 10x): **{ratio}**.
"""


def _rows(runs: dict[str, dict], args: argparse.Namespace) -> str:
    def row(name: str, cell: Callable[[dict], str]) -> str:
        return f"| {name} | " + " | ".join(cell(r) for r in runs.values()) + " |"

    def pair(key: str, q: int) -> Callable[[dict], str]:
        return lambda r: f"{percentile(r[key], q):.1f} s"
    return "\n".join([
        row(f"texts ({args.new_share:.0%} new conversations), sent over {args.window:.0f} s",
            lambda r: str(r["n_texts"])),
        row("backlog tail: last reply sent → last text in its ticket",
            lambda r: f"{r['tail']:.0f} s"),
        row("Zendesk calls per text (bulk job calls among them)",
            lambda r: f"{r['calls'] / max(1, r['n_texts']):.2f} ({r['bulk_calls']})"),
        row("of which single ticket reads (`GET tickets/{id}`: Opened Ticket)",
            lambda r: str(r.get("reads", "n/a"))),
        row("text latency p50 / p99 (comment times are whole seconds)",
            lambda r: f"{percentile(r['latency'], 50):.1f} s / "
                      f"{percentile(r['latency'], 99):.1f} s"),
        row(f"control customers ({CONTROLS}, a text every {CONTROL_EVERY:.0f} s in turn) p99 "
            "during the flood / quiet (same run)",
            lambda r: f"{percentile(r['control'], 99):.1f} s / {percentile(r['quiet'], 99):.1f} s"),
        row("control customers p50 during the flood", pair("control", 50)),
        row("Redis peak `used_memory`", lambda r: f"{r['peak'] / 2**20:.1f} MiB"),
        row("lost / doubled / out of order",
            lambda r: f"{r['lost']} / {r['doubled']} / {r['out_of_order']}"),
    ])


def scaled(args: argparse.Namespace) -> argparse.Namespace:
    """`--scale` shrinks the run (a smoke run); 1.0 is the issue's campaign."""
    if args.scale == 1.0:
        return args
    return argparse.Namespace(**{**vars(args), **{
        "recipients": max(20, int(args.recipients * args.scale)),
        "replies": max(10, int(args.replies * args.scale)),
        "agent_replies": max(1, int(args.agent_replies * args.scale)),
        "window": max(5.0, args.window * args.scale)}})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipients", type=int, default=50_000)
    p.add_argument("--replies", type=int, default=2_000)
    p.add_argument("--new-share", type=float, default=0.6)
    p.add_argument("--window", type=float, default=300.0)
    p.add_argument("--agent-replies", type=int, default=50)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--modes", default="on,off", help="bulk writes on, off, or both (on,off)")
    p.add_argument("--no-doc", action="store_true")
    p.add_argument("--keep-logs", metavar="DIR", help="copy each stack's worker log there")
    args = scaled(p.parse_args())
    runs = {}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        env = {"ZENDESK_BULK_WRITES": "true" if mode == "on" else "false"}
        with bench_stack(extra_env=env) as (stack, b, about):
            runs[mode] = run(b, args, lambda: stack.log("worker"))
            if args.keep_logs:
                Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                (Path(args.keep_logs) / f"worker-{mode}.log").write_text(stack.log("worker"))
    publish("campaign", section(about, args, runs), args.no_doc or args.scale != 1.0)


if __name__ == "__main__":
    main()
