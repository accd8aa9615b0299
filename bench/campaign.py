"""Campaign day (E6): a campaign's receipts, then a flood of replies with a control customer,
on the real processes at the Team plan's limits (sandbox: 200 requests/min, 100 updates/min,
30 jobs; the bridge's budgets at their defaults).

    .venv/bin/python -m bench.campaign [--recipients 50000] [--replies 2000] [--new-share 0.6]
                                       [--window 300] [--agent-replies 50] [--no-doc]

Phase 1, receipts: a campaign from the short code to every recipient, a few with an open SMS
ticket (they get a note). Zendesk calls per receipt, Redis bytes kept per processed receipt
(`used_memory` delta ÷ receipts, after the bridge is idle), receipts queued as tasks.
Phase 2, replies: `--replies` texts spread over `--window` seconds (a share from new
conversations), agent replies on some tickets, and a control customer texting every few
seconds; then until the last text is in its ticket. Backlog tail (last reply sent → last
text in its ticket), Zendesk calls per text, text latency p50/p99, the control customer's p99
during the flood next to the same customer's p99 measured quiet just before (the baseline),
Redis peak memory, and lost / doubled / out of order texts.

Bulk writes (issue 11's update_many / create_many jobs) are not built yet, so only the single-
write run exists; its figures are the baseline a bulk run will be compared with.
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.report import percentile, publish
from bench.stack import bench_stack
from tests.e2e.harness import SHORT_CODE, Bridge, wait_for

CONTROL_EVERY = 3.0


class Watch:
    """Peak Redis memory, sampled every half second while the flood runs."""

    def __init__(self, b: Bridge) -> None:
        self.b, self.peak, self.stop = b, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, int(self.b.redis.info("memory")["used_memory"]))
            time.sleep(0.5)


def landed(b: Bridge, phone: str, body: str) -> bool:
    return any(c["body"] == body for t in b.tickets_of(phone) for c in b.comments(t["id"]))


def latency(b: Bridge, phone: str, body: str, timeout: float) -> float:
    sent = time.time()
    b.text(phone, body)
    wait_for(lambda: landed(b, phone, body), timeout, "the control text", every=0.1)
    return time.time() - sent


def receipts_phase(b: Bridge, recipients: list[str], with_ticket: list[str]) -> dict:
    b.settle(600)
    b.reset_calls()
    before, queued0 = b.redis.info("memory")["used_memory"], task_count(b)
    sent = b.campaign_batch(recipients, "Spring sale: 20% off everything this weekend",
                            "Spring", sender=SHORT_CODE)
    notes = "Klaviyo flow 'Spring' sent: Spring sale: 20% off everything this weekend"
    wait_for(lambda: all(any(c["body"] == notes for t in b.tickets_of(p)
                             for c in b.comments(t["id"])) for p in with_ticket), 600, "notes")
    b.settle(600)
    calls = b.zendesk_calls()
    return {"receipts": sent["sent"], "calls": calls, "per_receipt": calls / sent["sent"],
            "bytes": (b.redis.info("memory")["used_memory"] - before) / sent["sent"],
            "tasks": task_count(b) - queued0}


def task_count(b: Bridge) -> int:
    return sum(n for k, n in b.counters().items() if k.startswith("received_sms:")
               and not k.endswith("receipt_without_ticket"))


def flood_phase(b: Bridge, texts: list[tuple[str, str]], control: str, window: float,
                agent_tickets: list[int]) -> dict:
    b.reset_calls()
    watch = Watch(b)
    watch.thread.start()
    control_lat: list[float] = []
    stop = threading.Event()

    def control_loop() -> None:
        i = 0
        while not stop.is_set():
            control_lat.append(latency(b, control, f"control during flood {i}", 900))
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
    wait_for(lambda: all(landed(b, p, t) for p, t in texts[-20:]), 7200, "the backlog", every=2)
    b.settle(7200)
    tail = time.time() - last_sent
    stop.set()
    ctl.join(900)
    watch.stop.set()
    return {"tail": tail, "calls": b.zendesk_calls(), "control": control_lat,
            "peak": watch.peak, **check(b, texts)}


def check(b: Bridge, texts: list[tuple[str, str]]) -> dict:
    """Lost, doubled and out of order texts, per customer."""
    lost = doubled = disorder = 0
    by_phone: dict[str, list[str]] = {}
    for phone, body in texts:
        by_phone.setdefault(phone, []).append(body)
    for phone, bodies in by_phone.items():
        seen = [c["body"] for t in b.tickets_of(phone) for c in b.comments(t["id"])
                if c["body"] in bodies]
        lost += sum(1 for x in bodies if x not in seen)
        doubled += len(seen) - len(set(seen))
        disorder += int([x for x in seen if x in bodies] != [x for x in bodies if x in seen])
    return {"lost": lost, "doubled": doubled, "out_of_order": disorder}


def run(b: Bridge, args: argparse.Namespace) -> dict:
    new = int(args.replies * args.new_share)
    phones = b.make_customers(args.recipients + 1)
    control, recipients = phones[0], phones[1:]
    existing = recipients[: args.replies - new]
    for p in [control, *existing]:
        b.text(p, "hello")
    wait_for(lambda: all(b.tickets_of(p) for p in [control, *existing]), 1800, "tickets",
             every=2)
    quiet = [latency(b, control, f"control quiet {i}", 300) for i in range(5)]
    receipts = receipts_phase(b, recipients, existing[:20])
    texts = [(p, f"reply from {p}") for p in existing + recipients[len(existing):][:new]]
    agent = [b.tickets_of(p)[0]["id"] for p in existing[: args.agent_replies]]
    return {"quiet": quiet, "receipts": receipts, "n_texts": len(texts),
            **flood_phase(b, texts, control, args.window, agent)}


def section(about: str, args: argparse.Namespace, r: dict) -> str:
    rc, ctl, q = r["receipts"], r["control"], r["quiet"]
    p99 = f"{percentile(ctl, 99):.1f} s / {percentile(q, 99):.1f} s"
    p50 = f"{percentile(ctl, 50):.1f} s / {percentile(q, 50):.1f} s"
    return f"""## Campaign day (`bench/campaign.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.campaign --recipients {args.recipients} --replies
{args.replies} --new-share {args.new_share} --window {args.window} --agent-replies
{args.agent_replies}`. Sandbox at the Team plan's limits, bridge budgets at their defaults.
Bulk writes are not built yet: this is the single-write run (the baseline a bulk run will be
compared with).

| receipts (phase 1) | |
| --- | ---: |
| receipts | {rc['receipts']} |
| Zendesk calls, all told (notes on open tickets included) | {rc['calls']} |
| Zendesk calls per receipt (target ≤ 0.01) | {rc['per_receipt']:.4f} |
| receipt tasks queued (only recipients with an open SMS ticket) | {rc['tasks']} |
| Redis bytes kept per processed receipt (target ≤ 300) | {rc['bytes']:.0f} |

| replies (phase 2) | |
| --- | ---: |
| texts ({args.new_share:.0%} new conversations), sent over {args.window:.0f} s | {r['n_texts']} |
| backlog tail: last reply sent → last text in its ticket | {r['tail']:.0f} s |
| Zendesk calls per text | {r['calls'] / max(1, r['n_texts']):.2f} |
| control customer p99 during the flood / quiet (baseline, same run) | {p99} |
| control customer p50 during the flood / quiet | {p50} |
| Redis peak `used_memory` | {r['peak'] / 2**20:.1f} MiB |
| lost / doubled / out of order | {r['lost']} / {r['doubled']} / {r['out_of_order']} |
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipients", type=int, default=50_000)
    p.add_argument("--replies", type=int, default=2_000)
    p.add_argument("--new-share", type=float, default=0.6)
    p.add_argument("--window", type=float, default=300.0)
    p.add_argument("--agent-replies", type=int, default=50)
    p.add_argument("--no-doc", action="store_true")
    args = p.parse_args()
    with bench_stack() as (_, b, about):
        result = run(b, args)
    publish("campaign", section(about, args, result), args.no_doc)


if __name__ == "__main__":
    main()
