"""`zkbridge failed | check | provision`: the operator's commands around bridge/ops/failed_jobs.py,
bridge/ops/setup_check.py (cli/check.py) and bridge/ops/provision.py (cli/provision.py). This
module only parses, wires Celery in (to publish replays) and prints; what is done and said lives
in `bridge/`. Each takes `--brand NAME` (E7, cli/brand_option.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from bridge import bootstrap
from bridge.config import Settings
from bridge.domain.redact import printable
from bridge.ops import failed_jobs as failed
from bridge.ops import setup_check
from cli.brand_option import add_brand_option, brands_of
from cli.check import cmd_check
from cli.provision import SECRET_TO_SET, add_provision
from workers.celery_app import make_celery
from workers.queues import enqueue, task_for_kind

TABLE = (("REF", "ref", 40), ("SOURCE", "source", 7), ("ERROR", "error", 20),
         ("TRIES", "attempts", 5), ("LAST FAILURE (UTC)", "last_failure", 19),
         ("STATE", "state", 7), ("MESSAGE", "message", 60))
BRAND = ("BRAND", "brand", 12)     # a column when several brands are configured (E7)

Command = Callable[[argparse.Namespace, Settings], int]
__all__ = ["SECRET_TO_SET", "add_commands"]


def add_commands(sub: Any, date: Callable[[str], datetime]) -> None:
    """Register the subcommands on `zkbridge`'s subparsers (`date` parses --since)."""
    f = sub.add_parser("failed", help="failed jobs: list, show, replay, purge (E2)")
    fsub = f.add_subparsers(dest="action", required=True)
    ls = fsub.add_parser("list", help="failed jobs, oldest first")
    _filters(ls, date)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(run=_redis_guard(cmd_list))
    show = fsub.add_parser("show", help="one failed job with its event (masked)")
    show.add_argument("ref", help="event ref, e.g. klaviyo:01J...")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_redis_guard(cmd_show))
    rp = fsub.add_parser("replay", help="run failed jobs again (safe: jobs are idempotent)")
    rp.add_argument("refs", nargs="*", metavar="REF")
    rp.add_argument("--all", action="store_true", help="every failed job")
    _filters(rp, date)
    rp.set_defaults(run=_redis_guard(cmd_replay))
    pg = fsub.add_parser("purge", help="remove jobs from the list (they are not replayed)")
    pg.add_argument("refs", nargs="*", metavar="REF")
    pg.add_argument("--all", action="store_true", help="empty the whole list")
    add_brand_option(pg, "with --all: only this brand's jobs")
    pg.set_defaults(run=_redis_guard(cmd_purge))

    c = sub.add_parser("check", help="check credentials, secrets, Redis and workers")
    add_brand_option(c, "check this brand's Klaviyo account only (key, revision)")
    c.set_defaults(run=cmd_check)
    add_provision(sub)


def _filters(p: argparse.ArgumentParser, date: Callable[[str], datetime]) -> None:
    p.add_argument("--source", choices=("klaviyo", "zendesk"), help="only this source's jobs")
    p.add_argument("--since", type=date, help="only jobs that failed since, e.g. 2026-07-01")
    add_brand_option(p, "only this brand's jobs (default, or a name in BRANDS_FILE)")


def _redis_guard(cmd: Command) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return cmd(args, settings)
        except redis.RedisError as e:
            print(f"cannot reach Redis at {setup_check.redacted_url(settings.redis_url)} "
                  f"({type(e).__name__}): check REDIS_URL", file=sys.stderr)
            return 1
    return run


# --- failed ---------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    jobs = failed.list_failed(bootstrap.store(settings), args.source, args.since, args.brand)
    if args.json:
        for job in jobs:
            print(_json_line(job))
        return 0
    if not jobs:
        print("No failed jobs" + _filter_words(args) + ".")
        return 0
    table = TABLE if len(brands_of(args, settings)) == 1 else (*TABLE[:2], BRAND, *TABLE[2:])
    print("  ".join(title.ljust(width) for title, _, width in table).rstrip())
    for job in jobs:
        print("  ".join(_cell(job, key, width) for _, key, width in table).rstrip())
    print(f"{len(jobs)} failed job(s). Details: zkbridge failed show REF; "
          f"run again: zkbridge failed replay REF")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    job = failed.get_failed(bootstrap.store(settings), args.ref)
    if job is None:
        print(f"{args.ref} is not in failed jobs.", file=sys.stderr)
        return 1
    if args.json:
        print(_json_line(job))
        return 0
    for key in ("ref", "summary", "kind", "task", "state", "error", "message", "last_error",
                "attempts", "first_failure", "last_failure", "received_at", "queue"):
        value = job.get(key)
        if key in ("first_failure", "last_failure", "received_at"):
            value = _when(value)
        print(f"{key + ':':15} {'' if value is None else printable(str(value))}")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    filters = args.all or args.source or args.since or args.brand
    if not (args.refs or filters):
        print("name the jobs to replay: REF..., or --all, --source klaviyo|zendesk, "
              "--since DATE, --brand NAME", file=sys.stderr)
        return 2
    if args.refs and filters:
        print("give REFs or filters (--all, --source, --since, --brand), not both",
              file=sys.stderr)
        return 2
    store, app = bootstrap.store(settings), make_celery(settings)

    def publish(task: str, ref: str) -> None:
        enqueue(app, task, ref)

    status = 0
    if args.refs:
        for ref in args.refs:
            if store.events.load_event(ref) is None and store.outcomes.failed_entry(ref) is None:
                print(f"{ref}: unknown: no such event or failed job")
                status = 1
                continue
            print(failed.replay(store, ref, publish, task_for_kind))
        return status
    lines = failed.replay_many(store, publish, task_for_kind, args.source, args.since,
                               args.brand)
    for line in lines:
        print(line)
    replayed = sum(": replayed:" in line for line in lines)
    print(f"{replayed} of {len(lines)} failed job(s){_filter_words(args)} replayed.")
    return status


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    if not args.refs and not args.all:
        print("name the jobs to purge (REF...), or --all to empty the list (--all --brand NAME: "
              "that brand's jobs)", file=sys.stderr)
        return 2
    if args.brand and (args.refs or not args.all):
        print("--brand goes with --all (that brand's jobs), not with REFs", file=sys.stderr)
        return 2
    names = tuple(b.name for b in brands_of(args, settings))
    removed = failed.purge(bootstrap.store(settings), None if args.all else args.refs,
                           brand=args.brand, brands=names)
    print(f"{removed} failed job(s){_filter_words(args)} removed from the list (their events "
          f"were not replayed).")
    return 0


def _filter_words(args: argparse.Namespace) -> str:
    words = f" from {args.source}" if getattr(args, "source", None) else ""
    words += f" of brand {args.brand}" if getattr(args, "brand", None) else ""
    return words + (f" since {args.since:%Y-%m-%d %H:%M} UTC" if getattr(args, "since", None)
                    else "")


def _cell(job: dict[str, Any], key: str, width: int) -> str:
    value = job.get(key)
    text = _when(value) if key == "last_failure" else ("" if value is None else str(value))
    text = printable(" ".join(text.split()))
    return (text if len(text) <= width else text[:width - 1] + "…").ljust(width)


def _json_line(job: dict[str, Any]) -> str:
    """One JSON object; C1 controls escaped too (json leaves them raw with ensure_ascii off)."""
    text = json.dumps(job, ensure_ascii=False, sort_keys=True)
    return "".join(f"\\u{ord(c):04x}" if 0x7F <= ord(c) <= 0x9F else c for c in text)


def _when(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
