"""Handing a secret to the operator through a file only they can read (mode 600), never the
terminal (scrollback, CI logs and screen shares keep what a terminal shows)."""

from __future__ import annotations

import os


def write_secret(path: str, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)   # also when the file already existed
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
