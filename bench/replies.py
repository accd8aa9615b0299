"""Reply path: agent replies -> SMS through Klaviyo's Conversations API, under backlog.

The quota (60 messages/min per account), not the code, sets the pace here, so the figure is the
achieved share of the quota, measured beside the quota itself in the same run (the baseline:
what the sandbox, at production limits, would accept at most in the same time). Loss is
counted: every reply must reach the phone once.

    .venv/bin/python -m bench.replies [--replies 120] [--conversations 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.report import machine, write_section
from scripts.devstack import Stack
from tests.e2e.harness import CONVERSATIONS, Bridge, open_tickets, wait_for

QUOTA_PER_MINUTE = 60
HEADER = ("| replies | seconds | overall/min | drain/min | share of 60/min quota | lost "
          "| doubled | in order | 429s / calls |")


@dataclass(frozen=True)
class Replies:
    """One run's figures: `header` and `row` are its table, as the doc section shows it."""

    about: str              # the machine, as the run started
    replies: int
    conversations: int
    elapsed: float          # seconds from the first post to the last reply on a phone
    rate: float             # replies/min overall
    drain: float            # replies/min between the first and the last SMS (sandbox clock)
    lost: int
    doubled: int
    ordered: bool
    throttled: int          # Conversations API calls answered 429 ...
    calls: int              # ... of these

    @property
    def share(self) -> float:
        return self.drain / QUOTA_PER_MINUTE

    @property
    def header(self) -> str:
        return HEADER

    @property
    def row(self) -> str:
        return (f"| {self.replies} | {self.elapsed:.1f} | {self.rate:.1f} | {self.drain:.1f} | "
                f"**{self.share:.0%}** | {self.lost} | {self.doubled} | {self.ordered} | "
                f"{self.throttled} / {self.calls} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=120)
    parser.add_argument("--conversations", type=int, default=3, choices=(1, 2, 3))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(workdir=Path(tmp))
        try:
            stack.start()
            result = run(stack, args)
        finally:
            stack.stop()
    write_section("replies", doc_section(result))


def post_replies(bridge: Bridge, conversations: tuple[tuple[str, str], ...],
                 tickets: dict[tuple[str, str], int], count: int) -> dict[str, list[str]]:
    """`count` public replies at once, round-robin over the conversations; bodies by phone."""
    bodies: dict[str, list[str]] = {phone: [] for phone, _ in conversations}
    for i in range(count):
        phone, to = conversations[i % len(conversations)]
        body = f"bench reply {i:04d}"
        bridge.reply(tickets[(phone, to)], body)
        bodies[phone].append(body)
    return bodies


def drain_per_minute(bridge: Bridge, conversations: tuple[tuple[str, str], ...]) -> float:
    """Baseline, same run: the quota itself. The drain rate is measured between the first and
    the last SMS reaching the phone (sandbox clock), so it is the pace under backlog, not the
    wait before the first minute's window opens."""
    times = sorted(datetime.fromisoformat(m["at"]).timestamp()
                   for p, _ in conversations for m in bridge.replies_to(p))
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9) * 60 if len(times) > 1 else 0.0


def run(stack: Stack, args: argparse.Namespace) -> Replies:
    """Post `args.replies` replies on this stack, wait for every one on the phone, print the
    figures and return them (the caller writes the doc section)."""
    bridge = Bridge(stack)
    conversations = CONVERSATIONS[:args.conversations]
    tickets = open_tickets(bridge, conversations)
    bridge.reset_calls()
    about = machine(stack.redis_url or "")
    started = time.time()
    bodies = post_replies(bridge, conversations, tickets, args.replies)
    wait_for(lambda: sum(len(bridge.replies_to(p)) for p, _ in conversations) >= args.replies,
             timeout=args.replies * 1.5 + 120, what="every reply")
    elapsed = time.time() - started
    bridge.settle()
    seen = {p: [m["body"] for m in bridge.replies_to(p)] for p, _ in conversations}
    result = Replies(
        about, args.replies, len(conversations), elapsed, rate=args.replies / elapsed * 60,
        lost=sum(len(set(bodies[p]) - set(seen[p])) for p in bodies),
        doubled=sum(len(seen[p]) - len(set(seen[p])) for p in seen),
        ordered=all(seen[p] == bodies[p] for p in bodies),
        calls=bridge.calls().get("klaviyo POST /api/conversation-messages", 0),
        throttled=bridge.throttled().get("klaviyo", 0),
        drain=drain_per_minute(bridge, conversations))
    print(f"{result.replies} replies over {result.conversations} conversations in "
          f"{elapsed:.1f} s ({result.rate:.1f}/min overall); drain {result.drain:.1f}/min = "
          f"{result.share:.0%} of the {QUOTA_PER_MINUTE}/min quota; lost {result.lost}, "
          f"doubled {result.doubled}, in order {result.ordered}; "
          f"{result.throttled} of {result.calls} calls answered 429")
    return result


def doc_section(result: Replies) -> str:
    command = (f".venv/bin/python -m bench.replies --replies {result.replies} "
               f"--conversations {result.conversations}")
    return f"""
## Reply path: agent reply -> SMS (`bench/replies.py`)

Machine: {result.about}.
Command: `{command}`

Real processes (sandbox with production limits: conversation messages 3/s and 60/min; web,
worker, beat, redis-server). {result.replies} public agent replies are posted at once in the
desk over {result.conversations} SMS tickets; the bridge's shared budget is at its default
(`KLAVIYO_MESSAGES_PER_MINUTE=60`).

{result.header}
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: |
{result.row}

Baseline in the same run: the quota itself (60/min). "Drain" is the pace between the first
and the last SMS reaching the phone (the sandbox's clock); "overall" also counts the wait for
the first minute's window to slide. The budget keeps one message in hand per minute (59/min)
so a grant and its request can never tip the vendor's fixed window over: the ceiling is 98%.
"""


if __name__ == "__main__":
    main()
