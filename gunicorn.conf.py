"""gunicorn reads this file by itself when started from the project's folder (the Procfile's
`web` line, `./dev up`, the Docker image): no flag needed.

`on_starting` runs once, in the master, before any worker forks: a bad configuration stops
gunicorn there with the CLI's one-screen message and exit status 2, instead of every worker
printing a traceback while importing the app.
"""

from __future__ import annotations

import sys

from bridge.brands import settings_and_brands
from bridge.errors import ConfigError


def on_starting(server: object) -> None:
    try:
        settings_and_brands()      # the variables and the brands file (E7), together
    except ConfigError as problems:
        print(problems, file=sys.stderr)
        sys.exit(2)
