"""Quota share: how much of Zendesk's rate limit the bridge uses while it drains a backlog of
texts, at production limits (sandbox and bridge), against the quota itself (the baseline).

    .venv/bin/python -m bench.quota [--customers 150] [--texts 300] [--replies 120] [--no-doc]

Once a campaign's replies pile up, the vendor's limit and not the code sets the pace, so the
figure that matters is the share of the quota achieved: accepted Zendesk calls in each whole
minute of the sandbox's fixed windows while the backlog lasts, beside the limit. Phase cold:
each customer's first text (requester + ticket + the `Opened Ticket` read: 3 calls on the
200/min account limit). Phase warm: the rest, on those tickets (1 `PUT tickets/{id}` each,
which Zendesk also counts against its 100/min Update Ticket limit). Then the Conversations API
(60 messages/min) with bench/replies.py's own measurement on the same stack.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import requests

from bench import replies
from bench.pipeline import finished
from bench.report import publish
from bench.stack import bench_stack
from scripts.devstack import Stack
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

ACCOUNT, UPDATES = "zendesk", "zendesk:update_ticket"      # the sandbox's bucket names
PUT = "zendesk PUT /api/v2/tickets/{id}"
HEADER = ("| phase | texts | Zendesk calls/text | busy s | whole minutes | accepted calls/min "
          "(each minute) | binding limit (baseline) | share | share of account limit "
          "| texts/min | 429s / calls |\n| --- |" + " ---: |" * 10)


@dataclass(frozen=True)
class Sample:
    """The sandbox's Zendesk counters and the bridge's finished texts at one moment."""

    at: float
    calls: int          # Zendesk calls made, refused ones included
    throttled: int      # of which answered 429
    updates: int        # PUT tickets/{id} calls (refused included)
    texts: int          # texts the bridge has finished with

    @property
    def accepted(self) -> int:
        return self.calls - self.throttled


@dataclass(frozen=True)
class Drain:
    """One phase's backlog, sampled at every minute boundary of the sandbox's windows."""

    name: str
    texts: int
    samples: list[Sample]
    start: float
    updates_bound: bool     # every call a ticket update: Zendesk's Update Ticket limit binds
    endpoints: dict[str, int]   # the phase's calls by endpoint, both APIs (`/_sandbox/calls`)

    def breakdown(self) -> str:
        """Calls per text by endpoint."""
        return ", ".join(f"`{k}` {n / self.texts:.2f}" for k, n in sorted(self.endpoints.items()))

    @property
    def end(self) -> float:
        """When the last accepted call was seen: the backlog's end."""
        last = self.samples[-1].accepted
        return next(s.at for s in self.samples if s.accepted == last)

    def at(self, t: float) -> Sample:
        """The first sample at or after `t` (samples are taken just after each boundary)."""
        return next(s for s in self.samples if s.at >= t)

    def minutes(self) -> list[tuple[int, int, int]]:
        """(accepted calls, PUT calls, texts) in each whole fixed minute inside the drain."""
        out = []
        for k in range(math.ceil(self.start / 60), math.floor(self.end / 60)):
            a, b = self.at(k * 60), self.at((k + 1) * 60)
            out.append((b.accepted - a.accepted, b.updates - a.updates, b.texts - a.texts))
        return out

    def total(self) -> Sample:
        first, last = self.samples[0], self.samples[-1]
        return Sample(last.at - first.at, last.calls - first.calls,
                      last.throttled - first.throttled, last.updates - first.updates,
                      last.texts - first.texts)


def sample(b: Bridge) -> Sample:
    snap = requests.get(f"{b.sandbox}/_sandbox/calls", timeout=10).json()
    calls = sum(n for k, n in snap["calls"].items() if k.startswith("zendesk "))
    return Sample(time.time(), calls, snap["throttled"].get("zendesk", 0),
                  snap["calls"].get(PUT, 0), finished(b))


def drain(b: Bridge, name: str, texts: list[tuple[str, str]], batch: int, timeout: float,
          updates_bound: bool) -> Drain:
    """Queue the texts at once, then sample the counters just after every minute boundary (the
    sandbox's fixed windows start on whole minutes of the same clock) and every second, until
    every text is handled and the bridge is idle (the `Opened Ticket` reads come after)."""
    b.reset_calls()
    target = finished(b) + len(texts)
    samples = [sample(b)]
    start = time.time()
    for i in range(0, len(texts), batch):
        b.text_batch([{"from": p, "to": TOLL_FREE, "body": body} for p, body in texts[i:i + batch]])
    deadline = start + timeout
    while time.time() < deadline:
        now = time.time()
        boundary = math.floor(now / 60) * 60 + 60
        time.sleep(max(0.0, min(now + 1.0, boundary + 0.002) - now))
        samples.append(sample(b))
        if samples[-1].texts >= target and b.idle():
            print(f"{name}: {len(texts)} texts handled in {time.time() - start:.0f} s", flush=True)
            endpoints = b.calls()
            return Drain(name, len(texts), samples, start, updates_bound, endpoints)
    raise AssertionError(f"{name}: the backlog did not drain in {timeout:.0f} s")


def limit_of(limits: dict[str, list[list[int]]], bucket: str) -> int:
    """The sandbox's per-minute limit of a bucket (production values, untouched)."""
    return next(n for n, seconds in limits[bucket] if seconds == 60)


def row(d: Drain, limit: int, label: str, account: int) -> str:
    """One table row: the phase's accepted calls per whole minute against `limit` (for the warm
    phase, PUT calls against the Update Ticket limit), and against the account limit."""
    minutes, total = d.minutes(), d.total()
    per = [(u if d.updates_bound else a) for a, u, _ in minutes]
    acc = [a for a, _, _ in minutes]
    nan = float("nan")
    mean = sum(per) / len(per) if per else nan
    mean_acc = sum(acc) / len(acc) if acc else nan
    texts = sum(t for _, _, t in minutes) / len(minutes) if minutes else nan
    what = "PUT calls" if d.updates_bound else "calls"
    return (f"| {d.name} | {d.texts} | {total.calls / d.texts:.2f} | {d.end - d.start:.0f} | "
            f"{len(minutes)} | **{mean:.0f}** {what} ({', '.join(map(str, per)) or 'none'}) | "
            f"{limit}/min {label} | **{mean / limit:.0%}** | {mean_acc / account:.0%} | "
            f"{texts:.0f} | {total.throttled} / {total.calls} "
            f"({total.throttled / max(total.calls, 1):.1%}) |")


def rows(drains: list[Drain], limits: dict[str, list[list[int]]]) -> str:
    account, updates = limit_of(limits, ACCOUNT), limit_of(limits, UPDATES)
    return "\n".join(row(d, updates, "Update Ticket", account) if d.updates_bound
                     else row(d, account, "account", account) for d in drains)


def measure_replies(stack: Stack, count: int) -> tuple[str, str]:
    """bench/replies.py's `run` on this stack (its own doc section is left alone, so the
    `replies` section keeps the figures of its own command). Returns the table's header and
    row."""
    result = replies.run(stack, argparse.Namespace(replies=count, conversations=3))
    return result.header, result.row


def conversations_paragraph(args: argparse.Namespace, reply: tuple[str, str] | None) -> str:
    """The Conversations API measurement's table, or why there is none."""
    if not reply:
        return ("Conversations API (60 messages/min): not run here (`--replies 0`); the "
                "`replies` section (bench/replies.py) measures it.")
    cells = reply[0].count("|") - 1
    return (f"Conversations API, same stack, right after the drain (`bench.replies.run`, "
            f"{args.replies} replies posted at once over 3 SMS tickets; baseline the "
            f"60/min quota):\n\n{reply[0]}\n|" + " ---: |" * cells + f"\n{reply[1]}")


def doc_section(about: str, args: argparse.Namespace, drains: list[Drain],
                limits: dict[str, list[list[int]]], settings: dict[str, str],
                reply: tuple[str, str] | None) -> str:
    account, updates = limit_of(limits, ACCOUNT), limit_of(limits, UPDATES)
    conv = conversations_paragraph(args, reply)
    return f"""## Quota share: Zendesk under a backlog (`bench/quota.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.quota --customers {args.customers} --texts {args.texts} \
--replies {args.replies}`

Real processes (sandbox, gunicorn `web`, celery `worker` with the Procfile's
WORKER_CONCURRENCY=4, `beat`, redis-server), **nothing raised**: the sandbox at Zendesk's Team
plan (`{ACCOUNT}` {account}/min, `{UPDATES}` {updates}/min, fixed windows on whole minutes)
and the bridge's shared budgets at their defaults ({", ".join(f"`{k}`={v}" for k, v in
settings.items())}; each keeps one call in hand per minute). {args.customers} consenting
profiles are made first; phase cold queues each customer's first text at once (3 Zendesk
calls: requester, ticket, and the ticket read behind its `Opened Ticket`), phase warm then
queues {args.texts} texts round-robin on the tickets just made (1 `PUT tickets/{{id}}` each, the
steady state of a running campaign). Each phase's counters (`/_sandbox/calls`) are sampled
just after every minute boundary; "accepted calls/min" is the mean over the whole minutes
inside the drain (the first minute's burst and the last partial minute are left out), listed
per minute in brackets; texts/min over the same minutes.

{HEADER}
{rows(drains, limits)}

Calls per text by endpoint (both APIs, whole phase, `beat` included):
{chr(10).join(f"- {d.name}: {d.breakdown()}" for d in drains)}

**Baseline**: the limit that binds, read from the same run's sandbox: the account's
{account}/min for cold texts, the Update Ticket {updates}/min for warm ones (every comment is a
ticket update). At 3 calls per new conversation and 1 per follow-up, with the budgets' one
call in hand, the ceilings are {(account - 1) / 3:.0f} new conversations/min and {updates - 1}
follow-ups/min; the texts/min column is what was achieved, and the calls per text by
endpoint show where the rest of the quota went.

{conv}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=150,
                   help="customers = cold texts (3 Zendesk calls each)")
    p.add_argument("--texts", type=int, default=300, help="warm texts (1 Zendesk update each)")
    p.add_argument("--replies", type=int, default=120, help="agent replies (0: skip)")
    p.add_argument("--batch", type=int, default=50, help="texts per webhook delivery")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for a phase")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = p.parse_args()
    rounds = math.ceil(args.texts / args.customers)
    reply = None
    with bench_stack() as (stack, b, about):
        limits = requests.get(f"{b.sandbox}/_sandbox/limits", timeout=10).json()["limits"]
        env = stack.env()
        settings = {k: env.get(k) or f"{d} (default)" for k, d in (
            ("ZENDESK_REQUESTS_PER_MINUTE", 200), ("ZENDESK_UPDATES_PER_MINUTE", 100),
            ("KLAVIYO_MESSAGES_PER_MINUTE", 60))}
        phones = b.make_customers(args.customers)
        wait_for(b.idle, 60, "a quiet start")
        cold = [(ph, f"quota cold {ph}") for ph in phones]
        warm = [(ph, f"quota warm {k} {ph}") for k in range(rounds) for ph in phones]
        drains = [drain(b, "cold", cold, args.batch, args.timeout, updates_bound=False)]
        print(rows(drains, limits), drains[0].breakdown(), sep="\n", flush=True)
        drains.append(drain(b, "warm", warm[:args.texts], args.batch, args.timeout,
                            updates_bound=True))
        print(rows(drains[1:], limits), drains[1].breakdown(), sep="\n", flush=True)
        if args.replies:
            reply = measure_replies(stack, args.replies)
    section = doc_section(about, args, drains, limits, settings, reply)
    publish("quota", section, args.no_doc)


if __name__ == "__main__":
    main()
