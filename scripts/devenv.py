"""The running dev stack's settings for the CLI: `./dev up` writes them to `.run/env.sh`,
`./dev env` prints them for `eval`, `./dev zkbridge ...` runs the CLI with them.

What is written is what `Stack.env` (scripts/devstack.py) gives the bridge's processes, so the
CLI sees the same settings whatever the stack's wiring becomes: every variable the stack set or
changed, and the bridge's own variables passed through from the environment; not PATH or the
sandbox's own variables. The file is readable by its owner only and removed when the stack
stops.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

ENV_FILE = "env.sh"
BRIDGE_PREFIXES = ("ZENDESK_", "KLAVIYO_", "REDIS_", "SMS_", "SYNC_", "OPS_", "FLOWER_",
                   "METRICS_", "ALLOW_INSECURE", "PORT", "BEAT_", "WEB_", "WORKER_", "PUBLIC_URL",
                   "LOG_LEVEL")
NOT_FOR_THE_CLI = ("PATH", "PYTHONUNBUFFERED", "SANDBOX_")


def for_the_cli(env: dict[str, str], ambient: dict[str, str]) -> dict[str, str]:
    """The stack's settings: what it set or changed, and the bridge's variables it passed on."""
    return {k: v for k, v in sorted(env.items())
            if (ambient.get(k) != v or k.startswith(BRIDGE_PREFIXES))
            and not k.startswith(NOT_FOR_THE_CLI)}


def write_env(env: dict[str, str], workdir: Path, pid: int | None = None) -> Path:
    """`export` lines of the stack's settings, tagged with the stack's pid."""
    lines = [f'# zkbridge dev stack, pid {pid or os.getpid()}: eval "$(./dev env)"']
    lines += [f"export {k}={shlex.quote(v)}"
              for k, v in for_the_cli(env, dict(os.environ)).items()]
    path = workdir / ENV_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    return path


def forget(workdir: Path) -> None:
    (workdir / ENV_FILE).unlink(missing_ok=True)


def print_env(workdir: Path) -> int:
    """Print the running stack's lines; 1 (and a hint) when no stack runs."""
    path = workdir / ENV_FILE
    text = path.read_text() if path.exists() else ""
    found = re.search(r"pid (\d+)", text)
    if not found or not _alive(int(found.group(1))):
        print("no dev stack is running: start one with ./dev up", file=sys.stderr)
        return 1
    print(text, end="")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
