"""A stack of the bridge's own for one benchmark run: started in a temporary folder, stopped
whatever happens, with the machine line every figure is published beside."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.report import machine
from scripts.devstack import Stack
from tests.e2e.harness import Bridge


@contextmanager
def bench_stack(**stack_options: Any) -> Iterator[tuple[Stack, Bridge, str]]:
    """(the started stack, a Bridge on it, the machine line)."""
    with tempfile.TemporaryDirectory(prefix="zkb-bench-") as tmp:
        stack = Stack(workdir=Path(tmp), **stack_options)
        try:
            stack.start()
            yield stack, Bridge(stack), machine(stack.redis_url or "")
        finally:
            stack.stop()
