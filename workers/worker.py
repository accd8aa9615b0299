"""The Celery app the `worker`, `beat` and `flower` processes run (`celery -A workers.worker`):
the composition root of those processes.

Builds the settings (a bad configuration stops the process here, listing every problem), the
JSON logs with the task and event bound into each line, the app, and registers the tasks.
"""

from __future__ import annotations

import logging
import os
import sys

from celery.signals import after_setup_logger, after_setup_task_logger

from bridge.adapters.logs import guard_handlers, secret_values, setup_logging
from bridge.brands import brand_secrets
from bridge.errors import ConfigError
from workers import deps, log_context
from workers.celery_app import make_celery

try:
    settings = deps.settings()
    deps.brands()        # the brands file is checked at start-up too (E7)
except ConfigError as problems:
    # The CLI's one-screen message and a non-zero exit, instead of Celery's "Unable to load
    # celery application" and a traceback (worker, beat and flower all import this module).
    print(problems, file=sys.stderr)
    sys.exit(2)
setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
log_context.install(logging.getLogger("zkbridge"))
app = make_celery(settings)

import workers.tasks  # noqa: E402, F401 - registers the tasks on `app`


@after_setup_logger.connect
@after_setup_task_logger.connect
def _guard_celery_logs(logger: logging.Logger, **_: object) -> None:
    """Celery's own lines (task retried/failed, with the exception's message, tracebacks) pass
    through the PII and secret guard too (E5); our JSON lines are masked as they are written."""
    guard_handlers(logger, [*secret_values(os.environ), *brand_secrets(deps.brands())])
