"""Every log line a task writes names the task and the event it is working on (STYLE.md #11).

Celery's `task_prerun` / `task_postrun` signals bind the task name and the event ref (the first
argument when it is one, e.g. "klaviyo:01J...") into a context variable; `ContextFilter`, put on
the `zkbridge` logger's handlers, adds them to each record's JSON fields.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from celery.signals import task_postrun, task_prerun

SOURCES = ("klaviyo:", "zendesk:", "klaviyo@")
_bound: ContextVar[dict[str, str] | None] = ContextVar("zkb_task_context", default=None)


def bound() -> dict[str, str]:
    """The fields bound for the task running now ({} outside a task)."""
    return _bound.get() or {}


def bind(task: str, args: Any = ()) -> None:
    fields = {"task": task}
    first = args[0] if args else None
    if isinstance(first, str) and first.startswith(SOURCES):
        fields["ref"] = first
    _bound.set(fields)


def unbind() -> None:
    _bound.set(None)


class ContextFilter(logging.Filter):
    """Adds the bound task and ref to a record's JSON fields (the record's own fields win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _bound.get()
        if fields:
            record.fields = {**fields, **(getattr(record, "fields", None) or {})}
        return True


def _on_prerun(task: Any = None, args: Any = (), **_: Any) -> None:
    bind(getattr(task, "name", None) or "?", args or ())


def _on_postrun(**_: Any) -> None:
    unbind()


def install(logger: logging.Logger) -> None:
    """Bind on every task of this process; put the filter on `logger`'s handlers (once)."""
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="zkb.log_context.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="zkb.log_context.postrun")
    for handler in logger.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
