"""Start Flower only with basic auth set (E5: ops endpoints require authentication).

`python -m workers.flower [flower options]` checks FLOWER_BASIC_AUTH ("user:password"), then
runs `celery -A workers.worker flower`, which reads that variable itself. Refused: no password,
a comma (Flower would read a second login), a placeholder (`ops:change-me`), and outside the
sandbox (ALLOW_INSECURE_UPSTREAMS) the dev stack's published password or one under 16
characters.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from bridge.upstreams import placeholder_problem

MIN_PASSWORD = 16                      # as OPS_TOKEN
TRUE = {"1", "true", "yes", "on"}      # as bridge.config reads ALLOW_INSECURE_UPSTREAMS


def auth_problem(env: Mapping[str, str]) -> str | None:
    """What is wrong with FLOWER_BASIC_AUTH (None: fine). Flower splits the value on commas
    into several `user:password` pairs, so a comma would quietly open a second, shorter login."""
    auth = env.get("FLOWER_BASIC_AUTH", "")
    if ":" not in auth or auth.startswith(":") or auth.endswith(":"):
        return ("set FLOWER_BASIC_AUTH=user:password before starting Flower (it shows queue "
                "contents and must not be open)")
    if "," in auth:
        return ("FLOWER_BASIC_AUTH must be one user:password without a comma (Flower reads a "
                "comma as the start of a second login)")
    strict = env.get("ALLOW_INSECURE_UPSTREAMS", "").strip().lower() not in TRUE
    problem = placeholder_problem("FLOWER_BASIC_AUTH", auth, strict)
    if problem is None and len(auth.partition(":")[2]) < MIN_PASSWORD and strict:
        problem = f"FLOWER_BASIC_AUTH's password must be at least {MIN_PASSWORD} characters"
    return problem


def main() -> None:
    problem = auth_problem(os.environ)
    if problem:
        sys.exit(f"zkbridge: {problem}")
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "workers.worker", "flower",
                              *sys.argv[1:]])


if __name__ == "__main__":
    main()
