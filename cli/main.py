"""`zkbridge` command line: the operator's tools. Subcommands build what they need from the same
environment as the services (see the README's configuration table). `failed`, `check` and
`provision` live in cli/commands.py (docs/operations.md); vendor calls are tried again
in cli/retries.py. Several brands (E7): the commands take `--brand NAME` (cli/brand_option.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from tqdm import tqdm

from bridge import bootstrap
from bridge.brands import settings_and_brands
from bridge.config import Settings
from bridge.domain.brand_scope import scope
from bridge.errors import ConfigError
from bridge.ops.backfill import BackfillReport, backfill
from cli.brand_option import add_brand_option, brands_of, chosen, tickets_of, unknown_brand
from cli.commands import add_commands
from cli.retries import Patient


def _date(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-01-31") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    """One brand's tickets (E7: the default brand's without --brand), with its settings (its
    Klaviyo account) and in its scope (its keys, its own export cursor)."""
    brands = brands_of(args, settings)
    brand = chosen(args, settings) or brands[0]
    deps = bootstrap.backfill_deps(bootstrap.for_brand(settings, brand),
                                   page_size=args.page_size)
    deps.zendesk, deps.klaviyo = Patient(deps.zendesk), Patient(deps.klaviyo)
    deps.wanted = tickets_of(brands, brand)
    bar = tqdm(unit=" tickets", desc="backfill" + (" (dry run)" if args.dry_run else ""),
               file=sys.stderr, disable=args.quiet)

    def progress(report: BackfillReport) -> None:
        bar.update(report.tickets - bar.n)
        bar.set_postfix(events=report.events, skipped=report.skipped)

    with scope(brand.name):
        report = backfill(args.since, args.until, deps, dry_run=args.dry_run,
                          on_page=progress)
    bar.close()
    _print_backfill(report, args.dry_run, brand.name if len(brands) > 1 else None)
    return 0


def _print_backfill(report: BackfillReport, dry_run: bool, brand: str | None) -> None:
    if brand is not None:
        print(f"brand: {brand}")
    verb = "would send" if dry_run else "sent"
    opened = report.by_metric.get("Opened Ticket", 0)
    resolved = report.by_metric.get("Resolved Ticket", 0)
    print(f"tickets scanned: {report.tickets}")
    print(f"events {verb}: {report.events} (Opened Ticket {opened}, Resolved Ticket {resolved})")
    print(f"already recorded, skipped: {report.skipped}")
    print(f"no email or phone on the requester, skipped: {report.no_identity}")
    if brand is not None:
        print(f"other brands' tickets, skipped: {report.other_brands}")
    print(f"Klaviyo calls: {report.bulk_calls} bulk (one call per event would be "
          f"{report.events}); Zendesk export calls: {report.export_calls}")


def version() -> str:
    """The installed version (pyproject.toml; CHANGELOG.md says what each one changed)."""
    try:
        return installed_version("zkbridge")
    except PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zkbridge", description="Operate the Zendesk-Klaviyo bridge.")
    p.add_argument("--version", action="version", version=f"zkbridge {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backfill", help="record Opened/Resolved Ticket for past tickets "
                                        "(Klaviyo backfill: no flows triggered)")
    b.add_argument("--since", type=_date, required=True, help="first day, e.g. 2026-01-01")
    b.add_argument("--until", type=_date, help="day after the last (default: now)")
    b.add_argument("--dry-run", action="store_true", help="count, send nothing")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--page-size", type=int, default=1000, help=argparse.SUPPRESS)
    add_brand_option(b, "this brand's tickets, sent to its Klaviyo account (default: the "
                        "default brand's)")
    b.set_defaults(run=cmd_backfill)
    add_commands(sub, _date)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings, args.brands = settings_and_brands()
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    refused = unknown_brand(args.brands, getattr(args, "brand", None))
    if refused:
        print(refused, file=sys.stderr)
        return 2
    return args.run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
