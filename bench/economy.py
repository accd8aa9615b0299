"""API economy: Zendesk and Klaviyo calls per text, per agent reply and per ticket event, cold
(first time: caches empty, new customer / new agent) and warm (a repeat), counted by the
sandbox (`/_sandbox/calls`, reset before each step), next to a same-run naive count.

    .venv/bin/python -m bench.economy [--count 20] [--no-doc]

Calls, not speed, are what the vendors' quotas charge (Zendesk: 200/min on the Team plan), so
every extra read here is throughput lost at the quota. The naive count is one call per
upstream write the step must cause (NAIVE below): more than that is lookups the bridge makes,
fewer would be batching. Cold vs warm shows what the bridge's caches save.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.pipeline import finished
from bench.report import machine, publish
from scripts.devstack import Stack
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

# One call per upstream write each step must cause, per (Zendesk, Klaviyo): what a bridge that
# only wrote (no lookups, no batching) would spend. The text's cold row includes its ticket's
# `Opened Ticket` (the bridge's own ticket fires `ticket.created` too).
NAIVE: dict[str, tuple[int, int, str]] = {
    "text": (2, 1, "cold: requester + ticket, Opened Ticket event; warm: the comment only"),
    "agent reply": (0, 1, "the conversation message"),
    "ticket created -> Opened Ticket": (0, 1, "the event"),
    "ticket closed -> Resolved Ticket": (0, 1, "the event"),
}
NAIVE_WARM_TEXT = (1, 0)
ZENDESK_AUTH = ("bridge@acme-shop.test/token", "sandbox-zendesk-token")   # the sandbox's own


@dataclass(frozen=True)
class Step:
    """Calls the sandbox counted for `count` repeats of one path, one temperature."""

    path: str
    temp: str
    count: int
    calls: dict[str, int]
    throttled: dict[str, int]

    def per(self, api: str) -> float:
        return sum(n for k, n in self.calls.items() if k.startswith(api + " ")) / self.count

    def breakdown(self) -> str:
        return ", ".join(f"`{k}` {n / self.count:.2f}" for k, n in sorted(self.calls.items()))


def measure(b: Bridge, path: str, temp: str, count: int, act: Callable[[], None],
            done: Callable[[], bool], timeout: float) -> Step:
    """Reset the counters, act, wait for the outcome and for the bridge to be idle (webhook
    echoes included, so their calls are the step's), then read the counters."""
    b.reset_calls()
    act()
    wait_for(done, timeout, f"{temp} {path}")
    b.settle(timeout)
    snap = requests.get(f"{b.sandbox}/_sandbox/calls", timeout=10).json()
    step = Step(path, temp, count, snap["calls"], snap["throttled"])
    print(f"{path} ({temp}, {count}): Zendesk {step.per('zendesk'):.2f}/op, Klaviyo "
          f"{step.per('klaviyo'):.2f}/op; {step.breakdown()}", flush=True)
    return step


def make_agents(sandbox: str, count: int) -> list[int]:
    """New Zendesk agents (through the sandbox's Zendesk API, before any counted step), so each
    cold reply is a new agent whose email the bridge has not cached."""
    ids = []
    for i in range(count):
        r = requests.post(f"{sandbox}/api/v2/users/create_or_update", auth=ZENDESK_AUTH,
                          timeout=10, json={"user": {"name": f"Bench Agent {i}", "role": "agent",
                                                     "email": f"agent{i}@acme-shop.test"}})
        r.raise_for_status()
        ids.append(int(r.json()["user"]["id"]))
    return ids


def text_steps(b: Bridge, phones: list[str], timeout: float) -> list[Step]:
    """Texts: a new customer's first text (new requester + ticket), then a second one."""
    steps, count = [], len(phones)
    for temp in ("cold", "warm"):
        target = finished(b) + count
        opened = len(b.klaviyo_events("Opened Ticket")) + (count if temp == "cold" else 0)
        steps.append(measure(
            b, "text", temp, count,
            lambda t=temp: b.text_batch([{"from": p, "to": TOLL_FREE, "body": f"economy {t}"}
                                         for p in phones]),
            lambda t=target, o=opened: finished(b) >= t
            and len(b.klaviyo_events("Opened Ticket")) >= o, timeout))
    return steps


def reply_steps(b: Bridge, phones: list[str], agents: list[int], timeout: float) -> list[Step]:
    """Agent replies: a new agent's first reply on a conversation, then a second one."""
    tickets = {p: b.tickets_of(p)[0]["id"] for p in phones}
    return [measure(
        b, "agent reply", temp, len(phones),
        lambda t=temp: [b.reply(tickets[p], f"economy reply {t} {p}", author_id=a)
                        for p, a in zip(phones, agents, strict=True)],
        lambda n=n: all(len(b.replies_to(p)) >= n for p in phones), timeout)
        for n, temp in enumerate(("cold", "warm"), start=1)]


def desk_ticket_steps(b: Bridge, count: int, timeout: float,
                      ) -> tuple[list[Step], dict[str, list[int]]]:
    """Desk tickets: a new requester's first ticket, then a second ticket of the same requester;
    the steps, and the tickets' ids by temperature."""
    steps, desk = [], {"cold": [], "warm": []}
    for temp in ("cold", "warm"):
        base = len(b.klaviyo_events("Opened Ticket"))
        steps.append(measure(
            b, "ticket created -> Opened Ticket", temp, count,
            lambda t=temp: desk[t].extend(
                b.desk_ticket(requester_email=f"economy{i}@example.com",
                              subject=f"economy {t} {i}", body="economy benchmark")["id"]
                for i in range(count)),
            lambda base=base: len(b.klaviyo_events("Opened Ticket")) >= base + count, timeout))
    return steps, desk


def close_steps(b: Bridge, count: int, timeout: float, desk: dict[str, list[int]]) -> list[Step]:
    """Closing them: each requester's first ticket closed, then their second."""
    steps = []
    for temp in ("cold", "warm"):
        base = len(b.klaviyo_events("Resolved Ticket"))
        steps.append(measure(
            b, "ticket closed -> Resolved Ticket", temp, count,
            lambda t=temp: [b.set_status(tid, "closed") for tid in desk[t]],
            lambda base=base: len(b.klaviyo_events("Resolved Ticket")) >= base + count,
            timeout))
    return steps


def run(b: Bridge, count: int, timeout: float) -> list[Step]:
    """Every path cold then warm, one path after another (the text's profile cache lasts 60 s,
    so its warm step follows its cold one at once)."""
    phones = b.make_customers(count)
    agents = make_agents(b.sandbox, count)
    steps = text_steps(b, phones, timeout)
    steps += reply_steps(b, phones, agents, timeout)
    opened, desk = desk_ticket_steps(b, count, timeout)
    return steps + opened + close_steps(b, count, timeout, desk)


def naive(path: str, temp: str) -> tuple[int, int]:
    if path == "text" and temp == "warm":
        return NAIVE_WARM_TEXT
    return NAIVE[path][:2]


def table(steps: list[Step]) -> str:
    by = {(s.path, s.temp): s for s in steps}
    rows = ["| path | cold Zendesk | cold Klaviyo | warm Zendesk | warm Klaviyo | naive cold Z/K "
            "| naive warm Z/K | 429s |", "| --- |" + " ---: |" * 7]
    for path in NAIVE:
        cold, warm = by[(path, "cold")], by[(path, "warm")]
        nc, nw = naive(path, "cold"), naive(path, "warm")
        throttled = sum(sum(s.throttled.values()) for s in (cold, warm))
        rows.append(f"| {path} | {cold.per('zendesk'):.2f} | {cold.per('klaviyo'):.2f} | "
                    f"{warm.per('zendesk'):.2f} | {warm.per('klaviyo'):.2f} | "
                    f"{nc[0]} / {nc[1]} | {nw[0]} / {nw[1]} | {throttled} |")
    return "\n".join(rows)


def doc_section(about: str, args: argparse.Namespace, steps: list[Step]) -> str:
    breakdown = "\n".join(f"- {s.path}, {s.temp}: {s.breakdown() or 'none'}" for s in steps)
    reasons = "; ".join(f"{path}: {why}" for path, (_, _, why) in NAIVE.items())
    return f"""## API economy: calls per text, reply and ticket event (`bench/economy.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.economy --count {args.count}`

Real processes (sandbox, gunicorn `web`, celery `worker`, redis-server; no `beat`, so its
periodic sweep's calls do not land in a step). Sandbox and bridge at production limits; the
429 column counts the vendors' refusals (a retried call would count twice), while a task that
waits for one of the bridge's own budgets makes no call for the wait but may repeat a lookup
when it runs again. Each row: {args.count}
repeats, counters reset before each step, read after the bridge is idle again (webhook echoes
included). Cold = caches empty: a new customer's first text (new Zendesk requester and
ticket), a new agent's first reply on a conversation the bridge has not replied on, a new
requester's first desk ticket, the first close. Warm = the repeat right after: the same
customer's second text (within the 60 s profile cache), the same agent's second reply on the
same ticket, a second ticket of the same requester, and its close. Figures are calls per
operation.

{table(steps)}

**Baseline** (computed, not measured): the naive count, one call per upstream write the step
must cause and nothing else ({reasons}). Above it = lookups; below it would be batching.

Per endpoint (calls per operation):
{breakdown}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=20, help="operations per step")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for a step")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="zkb-bench-") as tmp:
        stack = Stack(workdir=Path(tmp), processes=("sandbox", "web", "worker"))
        try:
            stack.start()
            b = Bridge(stack)
            about = machine(stack.redis_url or "")
            steps = run(b, args.count, args.timeout)
        finally:
            stack.stop()
    section = doc_section(about, args, steps)
    publish("economy", section, args.no_doc)


if __name__ == "__main__":
    main()
