"""API economy: Zendesk and Klaviyo calls per text, per agent reply and per ticket event, cold
(first time: caches empty, new customer / new agent) and warm (a repeat), counted by the
sandbox (`/_sandbox/calls`, reset before each step), next to a same-run naive count.

    .venv/bin/python -m bench.economy [--count 20] [--modes on,off] [--no-doc]

Calls, not speed, are what the vendors' quotas charge (Zendesk: 200/min on the Team plan), so
every extra read here is throughput lost at the quota. The naive count is one call per
upstream write the step must cause (NAIVE below): more than that is lookups the bridge makes,
fewer would be batching. Cold vs warm shows what the bridge's caches save.

The same steps run twice in one invocation, each on a fresh stack (#15): features on (today's
defaults with S11's window, A8's quiet hours set to a window the run is outside of, A9's
ticket context with its field; S10's phrases and M5's profile property are on by default) and
off (the baseline: no context, no phrases, no quiet hours, no reopen window). A delta line per
path says whether the features cost a call: Zendesk must be unchanged, and a cold text may cost
Klaviyo only A9's context read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests

from bench.pipeline import finished
from bench.report import publish
from bench.stack import bench_stack
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
# A9's read: the customer's last campaign/flow SMS; GET /api/metrics finds its metric's id, once
# per worker process (a metric's id is kept in the process), so at most WORKER_CONCURRENCY
# times a run, in whichever cold texts each process takes first.
CONTEXT_READ = "klaviyo GET /api/events"
METRIC_LOOKUP = "klaviyo GET /api/metrics"


def quiet_window(now: datetime) -> str:
    """A8's window for the `on` run: one hour starting twelve hours from now (UTC), so the
    run (minutes) is never inside it and no reply is held."""
    start = now.astimezone(UTC) + timedelta(hours=12)
    return f"{start:%H:%M}-{start + timedelta(hours=1):%H:%M}"


def mode_env(mode: str, now: datetime) -> dict[str, str]:
    """The stack's settings for a mode. Empty values read as unset (`EnvReader.text`), so a
    variable in the caller's own environment cannot leak into a run."""
    if mode == "on":
        return {"SOLVED_REOPEN_HOURS": "72", "QUIET_HOURS": quiet_window(now),
                "QUIET_HOURS_TZ": "UTC", "TICKET_CONTEXT": "true",
                "ZENDESK_CONTEXT_FIELD_ID": "360004", "SMS_OPT_OUT_PHRASES": ""}
    if mode == "off":
        return {"TICKET_CONTEXT": "false", "SMS_OPT_OUT_PHRASES": "none", "QUIET_HOURS": "",
                "QUIET_HOURS_TZ": "", "SOLVED_REOPEN_HOURS": ""}
    raise SystemExit(f"--modes takes on and/or off, got {mode!r}")


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


def by_key(steps: list[Step]) -> dict[tuple[str, str], Step]:
    return {(s.path, s.temp): s for s in steps}


def table(steps: list[Step]) -> str:
    by = by_key(steps)
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


def endpoint_delta(on: Step, off: Step, api: str) -> dict[str, float]:
    """Calls per operation on minus off, per endpoint of `api`, only those that differ."""
    keys = sorted(k for k in set(on.calls) | set(off.calls) if k.startswith(api + " "))
    diff = {k: on.calls.get(k, 0) / on.count - off.calls.get(k, 0) / off.count for k in keys}
    return {k: d for k, d in diff.items() if abs(d) > 1e-9}


def api_delta(on: Step, off: Step, api: str) -> str:
    """`unchanged`, or the difference per operation with the endpoints behind it."""
    diff = endpoint_delta(on, off, api)
    if not diff:
        return "unchanged"
    parts = ", ".join(f"`{k}` {d:+.2f}" for k, d in diff.items())
    return f"{on.per(api) - off.per(api):+.2f} ({parts})"


def delta_lines(on_steps: list[Step], off_steps: list[Step]) -> list[str]:
    """One line per path: Zendesk and Klaviyo, cold and warm, on minus off."""
    on, off = by_key(on_steps), by_key(off_steps)
    lines = []
    for path in NAIVE:
        cells = [f"{name} " + ", ".join(
            f"{t} {api_delta(on[(path, t)], off[(path, t)], api)}" for t in ("cold", "warm"))
            for api, name in (("zendesk", "Zendesk"), ("klaviyo", "Klaviyo"))]
        lines.append(f"- {path}: " + "; ".join(cells))
    return lines


def context_verdict(on_steps: list[Step], off_steps: list[Step]) -> str:
    """Whether a cold text's extra Klaviyo calls are A9's context read (one per new
    conversation) and nothing else, the per-process metric id lookup aside."""
    on, off = by_key(on_steps)[("text", "cold")], by_key(off_steps)[("text", "cold")]
    diff = endpoint_delta(on, off, "klaviyo")
    read, lookup = diff.pop(CONTEXT_READ, 0.0), diff.pop(METRIC_LOOKUP, 0.0)
    ok = abs(read - 1) < 1e-9 and not diff
    line = (f"Cold text, Klaviyo on - off is the context read only (`{CONTEXT_READ}` "
            f"{read:+.2f} per text, expected +1.00): **{'yes' if ok else 'no'}**")
    if lookup:
        line += (f"; besides, `{METRIC_LOOKUP}` {lookup:+.2f} per text: the `Received SMS` "
                 f"metric's id, looked up once per worker process (at most "
                 f"WORKER_CONCURRENCY per run, so it shrinks with `--count`)")
    if diff:
        line += "; other Klaviyo differences: " + ", ".join(
            f"`{k}` {d:+.2f}" for k, d in diff.items())
    return line + "."


def zendesk_verdict(on_steps: list[Step], off_steps: list[Step]) -> str:
    on, off = by_key(on_steps), by_key(off_steps)
    same = all(not endpoint_delta(on[k], off[k], "zendesk")
               for k in on if k[0] in ("text", "agent reply"))
    return (f"Zendesk calls per text and per reply, cold and warm, on vs off: "
            f"**{'unchanged' if same else 'CHANGED (see the lines above)'}**.")


def delta_block(runs: dict[str, list[Step]]) -> str:
    if "on" not in runs or "off" not in runs:
        return "(one mode only: no on - off delta; run with `--modes on,off`.)"
    on, off = runs["on"], runs["off"]
    return "\n".join(["**Delta, features on - off** (calls per operation):",
                      *delta_lines(on, off), "", zendesk_verdict(on, off),
                      context_verdict(on, off)])


def modes_text(window: str) -> str:
    return f"""Each mode on a fresh stack, in this one invocation (#15). **on**: today's defaults
plus `SOLVED_REOPEN_HOURS=72` (S11), `QUIET_HOURS={window}` with `QUIET_HOURS_TZ=UTC` (A8; a
window the run is outside of, so no reply is held and only the check is measured; the
customers' +1 500 numbers take the fallback zone), `TICKET_CONTEXT=true` with
`ZENDESK_CONTEXT_FIELD_ID=360004` (A9) and the default `SMS_OPT_OUT_PHRASES` (S10). **off**
(the baseline): `TICKET_CONTEXT=false`, `SMS_OPT_OUT_PHRASES=none`, no `QUIET_HOURS`, no
`SOLVED_REOPEN_HOURS`. M5's support-state property has no switch: it rides in the Opened /
Resolved Ticket event in both modes. No step texts a solved ticket, so S11's window decides
nothing here; A9's context rides in the ticket's creation call (no Zendesk call of its own)
and costs one Klaviyo `GET /api/events` per new conversation, cached an hour per customer.
`GET /api/metrics`, where it shows, is the `Received SMS` metric's id, read once per worker
process and kept (a metric's id never changes)."""


def doc_section(about: str, args: argparse.Namespace, runs: dict[str, list[Step]],
                window: str) -> str:
    tables = "\n\n".join(f"**Features {m}**\n\n{table(steps)}" for m, steps in runs.items())
    breakdown = "\n".join(f"- {m}, {s.path}, {s.temp}: {s.breakdown() or 'none'}"
                          for m, steps in runs.items() for s in steps)
    reasons = "; ".join(f"{path}: {why}" for path, (_, _, why) in NAIVE.items())
    return f"""## API economy: calls per text, reply and ticket event (`bench/economy.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.economy --count {args.count} --modes {args.modes}`

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

{modes_text(window)}

{tables}

{delta_block(runs)}

**Baseline** (computed, not measured): the naive count, one call per upstream write the step
must cause and nothing else ({reasons}). Above it = lookups; below it would be batching. The
features' own baseline is the `off` run above.

Per endpoint (calls per operation):
{breakdown}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=20, help="operations per step")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for a step")
    p.add_argument("--modes", default="on,off", help="features on, off, or both (on,off)")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = p.parse_args()
    now = datetime.now(UTC)
    envs = {m: mode_env(m, now) for m in (x.strip() for x in args.modes.split(",")) if m}
    runs: dict[str, list[Step]] = {}
    abouts = []   # the machine line at each stack's start; the first is published
    for mode, env in envs.items():
        print(f"features {mode}: {env}", flush=True)
        with bench_stack(processes=("sandbox", "web", "worker"), extra_env=env) as (_, b, about):
            abouts.append(about)
            runs[mode] = run(b, args.count, args.timeout)
    section = doc_section(abouts[0], args, runs, quiet_window(now))
    publish("economy", section, args.no_doc)


if __name__ == "__main__":
    main()
