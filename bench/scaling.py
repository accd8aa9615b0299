"""Scaling: pipeline throughput (texts/s, text -> Zendesk comment) with 1, 2 and 4 worker
processes, against the 1-process figure of the same run (the baseline, ratio 1.00).

    .venv/bin/python -m bench.scaling [--workers 1,2,4] [--texts 3000] [--customers 600]
                                      [--batch 50] [--no-doc]

Whether adding worker processes helps depends on what bounds the pipeline, so each setting
also records CPU seconds per process group (worker, web, sandbox, redis) and for the whole
machine: on 2 cores the sandbox and gunicorn `web` share the cores with the workers, so more
processes help only until the cores are full. WORKER_CONCURRENCY sets the Procfile `worker`
line's `--concurrency`; the pool is prefork, so N means N child processes (plus the parent).
Each setting gets a fresh stack; limits and budgets are raised exactly as in bench/pipeline.py
(the bridge's own speed, not Zendesk's 200/min), and the texts are sent the same way
(`send_phase`), cold (each customer's first text) then warm (the rest, round-robin).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.pipeline import (
    BUDGETS,
    Phase,
    cpu_now,
    observed_times,
    phase_result,
    raise_limits,
    send_phase,
)
from bench.report import group_stats, machine, percentile, publish
from scripts.devstack import Stack
from tests.e2e.harness import Bridge

GROUPS = ("worker", "web", "sandbox", "redis")


@dataclass(frozen=True)
class Setting:
    """One WORKER_CONCURRENCY's run."""

    concurrency: int
    processes: int                 # in the worker's process group (children + parent)
    phases: list[Phase]
    cpu: dict[str, float]          # CPU seconds per process group over the phases
    others: float                  # CPU seconds of processes outside the stack, same spans
    machine_cores: float           # cores the whole machine kept busy over the phases
    load: tuple[float, float]      # 1-minute load average before and after
    received: list[float]          # per phase: first send -> web acknowledged its last text

    @property
    def texts(self) -> int:
        return sum(p.commented for p in self.phases)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def rate(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0

    def cores(self, group: str | None = None) -> float:
        """Cores kept busy on average: one group's, all of ours (None) or the machine's."""
        used = sum(self.cpu.values()) if group is None else self.cpu.get(group, 0.0)
        return used / self.seconds if self.seconds else 0.0


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat, all cores: user,
    nice, system, irq, softirq; not idle, iowait or steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:7])
    return busy / os.sysconf("SC_CLK_TCK")


def strings(doc: Any) -> Iterator[str]:
    """Every string value in a JSON document (a delivery's text bodies among them)."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


def received(b: Bridge, part: list[tuple[str, str]], sent: dict[str, float]) -> float:
    """Seconds from the phase's first text sent to the moment web acknowledged the delivery
    carrying its last text: if that is most of the phase, the feed (the sandbox's webhook
    deliveries to gunicorn) and not the workers sets the pace."""
    bodies = {body for _, body in part}
    last = 0.0
    for d in b.deliveries("klaviyo"):
        ok = [a["at"] for a in d["attempts"] if a["status"] and 200 <= a["status"] < 300]
        if ok and not bodies.isdisjoint(strings(json.loads(d["body"]))):
            last = max(last, ok[-1])
    return last - min(sent[body] for body in bodies if body in sent)


def run_setting(concurrency: int, texts: list[tuple[str, str]], args: argparse.Namespace,
                ) -> tuple[Setting, str]:
    """A fresh stack with WORKER_CONCURRENCY=concurrency; the pipeline's cold and warm phases."""
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="zkb-bench-") as tmp:
        stack = Stack(workdir=Path(tmp),
                      extra_env={**BUDGETS, "WORKER_CONCURRENCY": str(concurrency)})
        try:
            stack.start()
            b = Bridge(stack)
            about = machine(stack.redis_url or "")
            raise_limits(stack.sandbox_url)
            b.make_customers(args.customers)
            calls, cpu = [], defaultdict(float)
            others, busy, span = 0.0, 0.0, 0.0
            for part in (texts[:args.customers], texts[args.customers:]):
                # send_phase's own CPU figures stop at the last text handled; the machine's
                # are taken over the whole call (settling included) against ours over it.
                ours0, busy0, t0 = sum(cpu_now(stack).values()), machine_busy(), time.time()
                for group, used in send_phase(b, part, args).items():
                    cpu[group] += used
                ours = sum(cpu_now(stack).values()) - ours0
                used = machine_busy() - busy0
                busy, span = busy + used, span + time.time() - t0
                others += max(0.0, used - ours)
                calls.append(requests.get(f"{b.sandbox}/_sandbox/calls", timeout=10).json())
            processes = group_stats(stack.procs["worker"].popen.pid).processes
            sent, commented = observed_times(b)
            got = [received(b, part, sent)
                   for part in (texts[:args.customers], texts[args.customers:])]
        finally:
            stack.stop()
    phases = [phase_result("cold", texts[:args.customers], sent, commented, calls[0]),
              phase_result("warm", texts[args.customers:], sent, commented, calls[1])]
    setting = Setting(concurrency, processes, phases, dict(cpu), others, busy / span,
                      (load0, os.getloadavg()[0]), got)
    return setting, about


def bound(s: Setting) -> str:
    """What limits this setting, read from where the CPU and the time went."""
    worker, ours, total = s.cores("worker"), s.cores(), s.machine_cores
    warm = s.phases[1]
    if total >= 1.7:
        return (f"cores full ({total:.2f} of 2 busy: the worker {worker:.2f}, web + sandbox + "
                f"redis {ours - worker:.2f}, everything else {max(0.0, total - ours):.2f})")
    if s.received[1] >= 0.8 * warm.seconds:
        return (f"the feed: web acknowledged the last warm text {s.received[1]:.1f} s into a "
                f"{warm.seconds:.1f} s phase, so the texts arrive hardly faster than they are "
                f"applied ({total:.2f} of 2 cores busy)")
    if worker >= 0.8 * s.concurrency:
        return f"worker processes busy ({worker:.2f} cores for {s.concurrency})"
    return (f"neither the cores ({total:.2f} of 2) nor the worker processes ({worker:.2f} "
            f"cores for {s.concurrency}) are full: each process mostly waits on its calls "
            f"(sandbox, Redis)")


def table(settings: list[Setting]) -> str:
    """Throughput (with the ratio to the first setting), then where the CPU went."""
    base = settings[0].rate
    rows = ["| WORKER_CONCURRENCY | worker group processes | texts | cold texts/s "
            "| warm texts/s | all texts/s | ratio to 1 | p50 s | cold: last received / last "
            "comment, s | warm: last received / last comment, s |",
            "| ---: |" + " ---: |" * 9]
    for s in settings:
        cold, warm = s.phases
        lat = [x for p in s.phases for x in p.latencies]
        rows.append(
            f"| {s.concurrency} | {s.processes} | {s.texts:,} | "
            f"{cold.commented / cold.seconds:.1f} | {warm.commented / warm.seconds:.1f} | "
            f"**{s.rate:.1f}** | **{s.rate / base:.2f}** | {percentile(lat, 50):.1f} | "
            f"{s.received[0]:.1f} / {cold.seconds:.1f} | {s.received[1]:.1f} / "
            f"{warm.seconds:.1f} |")
    rows += ["", "| WORKER_CONCURRENCY | CPU s: worker | web | sandbox | redis | others "
             "| worker CPU ms/text | cores busy: worker | all of the stack | machine |",
             "| ---: |" + " ---: |" * 9]
    for s in settings:
        cpu = " | ".join(f"{s.cpu.get(g, 0.0):.1f}" for g in GROUPS)
        rows.append(f"| {s.concurrency} | {cpu} | {s.others:.1f} | "
                    f"{s.cpu.get('worker', 0.0) * 1000 / s.texts:.1f} | {s.cores('worker'):.2f} "
                    f"| {s.cores():.2f} | {s.machine_cores:.2f} |")
    return "\n".join(rows)


def doc_section(about: str, args: argparse.Namespace, settings: list[Setting]) -> str:
    bounds = "\n".join(f"- {s.concurrency} process(es): {bound(s)}; 1-minute load average "
                       f"{s.load[0]:.2f} before, {s.load[1]:.2f} after." for s in settings)
    lost = sum(s.texts for s in settings) != len(settings) * args.texts
    return f"""## Scaling: worker processes (`bench/scaling.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.scaling --workers {args.workers} --texts {args.texts} \
--customers {args.customers} --batch {args.batch}`

The pipeline of `bench/pipeline.py` (same limits and budgets raised, same sending, cold then
warm phase; see that section) on a fresh stack per setting, with WORKER_CONCURRENCY =
{args.workers}: the Procfile `worker` line's prefork pool, so N is N child processes, each
taking one task at a time (the group also holds the parent). {args.texts:,} texts over
{args.customers} customers per setting, sent as fast as the sandbox takes them.
{"Some texts never got a comment (see texts)." if lost else ""}

{table(settings)}

**Baseline**: the 1-process figure of this run (ratio 1.00). texts/s = texts commented ÷ time
from the first send to the last comment, per phase; "all" over both phases. "Last received" =
when gunicorn acknowledged the sandbox's webhook delivery carrying the phase's last text,
counted from the phase's first send (the sandbox delivers with 4 threads, {args.batch} texts a
delivery): when it is close to the last comment, the texts were applied about as fast as they
arrived. CPU seconds per
process group from each phase's first send to its last text handled (user + system,
/proc); cores busy = those CPU seconds ÷ the phases' seconds. "Machine" and "others" come
from /proc/stat over each whole phase (settling included): the machine's busy CPU time, and
that minus the stack's (this script, and anyone else's processes, e.g. other test runs). The
machine has 2 cores.

What bounds each setting (from the CPU figures):
{bounds}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2,4", help="WORKER_CONCURRENCY values, first = base")
    p.add_argument("--texts", type=int, default=3000, help="texts per setting")
    p.add_argument("--customers", type=int, default=600)
    p.add_argument("--batch", type=int, default=50, help="texts per webhook delivery")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for a phase")
    p.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = p.parse_args()
    args.rate = 0          # send_phase's pacing: none, as fast as the sandbox takes them
    rounds = args.texts // args.customers
    texts = [(f"+1500555{4000 + c:04d}", f"Where is my order? ref {k}-{c}")
             for k in range(rounds) for c in range(args.customers)]
    settings, about = [], ""
    for n in (int(x) for x in args.workers.split(",")):
        setting, seen = run_setting(n, texts, args)
        about = about or seen
        settings.append(setting)
        print(f"WORKER_CONCURRENCY={n}: {setting.texts} texts at {setting.rate:.1f}/s; "
              f"{bound(setting)}", flush=True)
    section = doc_section(about, args, settings)
    publish("scaling", section, args.no_doc)


if __name__ == "__main__":
    main()
