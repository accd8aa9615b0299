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
from datetime import datetime
from pathlib import Path

from bench.report import machine, write_section
from scripts.devstack import Stack
from tests.e2e.harness import CONVERSATIONS, Bridge, open_tickets, wait_for

QUOTA_PER_MINUTE = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=120)
    parser.add_argument("--conversations", type=int, default=3, choices=(1, 2, 3))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(workdir=Path(tmp))
        try:
            stack.start()
            run(stack, args)
        finally:
            stack.stop()


def run(stack: Stack, args: argparse.Namespace) -> None:
    bridge = Bridge(stack)
    conversations = CONVERSATIONS[:args.conversations]
    tickets = open_tickets(bridge, conversations)
    bridge.reset_calls()
    about = machine(stack.redis_url or "")
    bodies: dict[str, list[str]] = {phone: [] for phone, _ in conversations}
    started = time.time()
    for i in range(args.replies):
        phone, to = conversations[i % len(conversations)]
        body = f"bench reply {i:04d}"
        bridge.reply(tickets[(phone, to)], body)
        bodies[phone].append(body)

    def delivered() -> int:
        return sum(len(bridge.replies_to(p)) for p, _ in conversations)

    wait_for(lambda: delivered() >= args.replies, timeout=args.replies * 1.5 + 120,
             what="every reply")
    elapsed = time.time() - started
    bridge.settle()
    seen = {p: [m["body"] for m in bridge.replies_to(p)] for p, _ in conversations}
    lost = sum(len(set(bodies[p]) - set(seen[p])) for p in bodies)
    doubled = sum(len(seen[p]) - len(set(seen[p])) for p in seen)
    ordered = all(seen[p] == bodies[p] for p in bodies)
    calls = bridge.calls().get("klaviyo POST /api/conversation-messages", 0)
    throttled = bridge.throttled().get("klaviyo", 0)
    # Baseline, same run: the quota itself. The drain rate is measured between the first and
    # the last SMS reaching the phone (sandbox clock), so it is the pace under backlog, not the
    # wait before the first minute's window opens.
    times = sorted(datetime.fromisoformat(m["at"]).timestamp()
                   for p, _ in conversations for m in bridge.replies_to(p))
    drain = (len(times) - 1) / max(times[-1] - times[0], 1e-9) * 60 if len(times) > 1 else 0.0
    rate = args.replies / elapsed * 60
    share = drain / QUOTA_PER_MINUTE
    print(f"{args.replies} replies over {len(conversations)} conversations in {elapsed:.1f} s "
          f"({rate:.1f}/min overall); drain {drain:.1f}/min = {share:.0%} of the "
          f"{QUOTA_PER_MINUTE}/min quota; lost {lost}, doubled {doubled}, in order {ordered}; "
          f"{throttled} of {calls} calls answered 429")
    command = (f".venv/bin/python -m bench.replies --replies {args.replies} "
               f"--conversations {len(conversations)}")
    header = ("| replies | seconds | overall/min | drain/min | share of 60/min quota | lost "
              "| doubled | in order | 429s / calls |")
    row = (f"| {args.replies} | {elapsed:.1f} | {rate:.1f} | {drain:.1f} | **{share:.0%}** | "
           f"{lost} | {doubled} | {ordered} | {throttled} / {calls} |")
    write_section("replies", f"""
## Reply path: agent reply -> SMS (`bench/replies.py`)

Machine: {about}.
Command: `{command}`

Real processes (sandbox with production limits: conversation messages 3/s and 60/min; web,
worker, beat, redis-server). {args.replies} public agent replies are posted at once in the
desk over {len(conversations)} SMS tickets; the bridge's shared budget is at its default
(`KLAVIYO_MESSAGES_PER_MINUTE=60`).

{header}
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: |
{row}

Baseline in the same run: the quota itself (60/min). "Drain" is the pace between the first
and the last SMS reaching the phone (the sandbox's clock); "overall" also counts the wait for
the first minute's window to slide. The budget keeps one message in hand per minute (59/min)
so a grant and its request can never tip the vendor's fixed window over: the ceiling is 98%.
""")


if __name__ == "__main__":
    main()
