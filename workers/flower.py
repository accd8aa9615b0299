"""Start Flower only with basic auth set (E5: ops endpoints require authentication).

`python -m workers.flower [flower options]` checks FLOWER_BASIC_AUTH ("user:password"), then
runs `celery -A workers.worker flower`, which reads that variable itself.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    auth = os.environ.get("FLOWER_BASIC_AUTH", "")
    if ":" not in auth or auth.startswith(":") or auth.endswith(":"):
        sys.exit("zkbridge: set FLOWER_BASIC_AUTH=user:password before starting Flower "
                 "(it shows queue contents and must not be open)")
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "workers.worker", "flower",
                              *sys.argv[1:]])


if __name__ == "__main__":
    main()
