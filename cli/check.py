"""`zkbridge check`: credentials, secrets, Redis and workers (bridge/ops/setup_check.py), printed
one line each. Several brands (E7, #16): the one Zendesk account is checked once and every
brand's Klaviyo account (key and revision); `--brand NAME` checks that brand's Klaviyo account
only."""

from __future__ import annotations

import argparse
import sys

from celery import Celery

from bridge import bootstrap
from bridge.config import Settings
from bridge.ops import setup_check
from bridge.ops.check import Check
from cli.brand_option import brands_of, chosen
from cli.retries import Patient
from workers.celery_app import make_celery

PING_SECONDS = 2.0


def workers_seen(app: Celery, timeout: float = PING_SECONDS) -> list[str]:
    """Names of the Celery workers answering a broadcast ping within `timeout` seconds."""
    replies = app.control.ping(timeout=timeout) or []
    return [name for reply in replies for name in reply]


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    checks = _checks(args, settings)
    ok, bad, warn = _marks()
    for c in checks:
        mark = ok if c.ok else (bad if c.required else warn)
        print(f"{mark} {c.name}: {c.detail}")
    failing = setup_check.failed_required(checks)
    warnings = sum(1 for c in checks if not c.ok and not c.required)
    if failing:
        print(f"\n{len(failing)} required check(s) failed; fix them and run zkbridge check "
              f"again.")
        return 1
    print("\nAll required checks passed" + (f" ({warnings} warning(s))." if warnings else "."))
    return 0


def _checks(args: argparse.Namespace, settings: Settings) -> list[Check]:
    brand = chosen(args, settings)
    if brand is not None:       # one brand's Klaviyo account (its key and revision)
        mine = bootstrap.for_brand(settings, brand)
        return setup_check.klaviyo_checks(mine, Patient(bootstrap.klaviyo_client(mine)),
                                          brand.name)
    others = [(b.name, s, Patient(bootstrap.klaviyo_client(s)))
              for b in brands_of(args, settings)[1:]
              for s in (bootstrap.for_brand(settings, b),)]
    app = make_celery(settings)
    return setup_check.run_checks(settings, bootstrap.store(settings),
                                  Patient(bootstrap.zendesk_client(settings)),
                                  Patient(bootstrap.klaviyo_client(settings)),
                                  lambda: workers_seen(app), other_brands=others)


def _marks() -> tuple[str, str, str]:
    """✓ ✗ ⚠ where the terminal can show them, plain words where it cannot."""
    try:
        "✓✗⚠".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "OK  ", "FAIL", "WARN"
    return "✓", "✗", "⚠"
