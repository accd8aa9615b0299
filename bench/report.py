"""What both benchmarks share: the machine description, percentiles, per-process-group
figures read from /proc, and writing one section of docs/benchmarks.md."""

from __future__ import annotations

import math
import os
import platform
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
DOC_HEADER = """# Benchmarks

Figures from `bench/` (see bench/README.md). Each section is rewritten by its script; a figure
means little without its same-run baseline, so compare the ratios rather than the raw rates.
"""


def machine(redis_url: str) -> str:
    """One line: CPU model, cores, RAM, Python, Redis, date and load average."""
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
    redis_version = redis.Redis.from_url(redis_url).info("server")["redis_version"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu[1] if cpu else platform.processor()}, {os.cpu_count()} cores, "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}, "
            f"Redis {redis_version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
            f"load average at start {load}")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class GroupStats:
    processes: int
    cpu_seconds: float     # user + system of the group's live processes
    peak_rss_mib: float    # sum of each process's VmHWM (an upper bound of the group's peak)


def group_stats(pgid: int) -> GroupStats:
    """Figures for a process group (the stack starts each process in its own session)."""
    tick = os.sysconf("SC_CLK_TCK")
    count, cpu, hwm_kb = 0, 0.0, 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue   # the process ended while we looked
        count += 1
        cpu += (int(fields[11]) + int(fields[12])) / tick
        found = re.search(r"VmHWM:\s+(\d+)", status)
        hwm_kb += int(found[1]) if found else 0
    return GroupStats(count, cpu, hwm_kb / 1024)


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between `<!-- bench:NAME -->` markers."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else DOC_HEADER
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        f"{text.rstrip()}\n\n{block}\n"
    DOC.write_text(text if text.endswith("\n") else text + "\n")


def publish(name: str, markdown: str, print_only: bool = False) -> None:
    """Print a benchmark's section and, unless `print_only` (`--no-doc`), write it to the doc."""
    print(markdown)
    if not print_only:
        write_section(name, markdown)
