"""`zkbridge provision`: the Zendesk webhook, one for all brands (and optionally the SMS view, the
context field and the close automation; bridge/ops/provision.py), its secret roll (cli/rotation.py)
and, with `--brand NAME`, that brand's Klaviyo system webhook pointed at its own route (rule E7,
#16; bridge/ops/klaviyo_webhook.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bridge import bootstrap
from bridge.adapters.klaviyo_admin import KlaviyoAdmin
from bridge.brands import Brand
from bridge.config import Settings
from bridge.errors import Permanent, UpstreamError
from bridge.ops import klaviyo_webhook, provision
from cli import rotation
from cli.brand_option import add_brand_option, chosen
from cli.retries import Patient
from cli.secret_file import write_secret

# provision's exit status when it worked but the receiver will refuse the webhook's deliveries
# until ZENDESK_WEBHOOK_SECRET holds its secret: scripts must not take it for "all set".
SECRET_TO_SET = 3


def add_provision(sub: Any) -> None:
    """Register `zkbridge provision` on the subparsers."""
    p = sub.add_parser("provision", help="create or update the Zendesk webhook (and optionally "
                                         "the SMS view and close automation); idempotent")
    p.add_argument("--view", action="store_true", help="also the 'SMS tickets' view")
    p.add_argument("--context-field", action="store_true", help="also the 'SMS context' field")
    p.add_argument("--automation", action="store_true",
                   help="also the automation closing solved SMS tickets")
    p.add_argument("--close-after-hours", type=int, metavar="N",
                   help="with --automation: close SMS tickets solved at least N hours ago")
    p.add_argument("--secret-file", metavar="PATH",
                   help="write the webhook's signing secret there (mode 600) instead of "
                        "printing it, when it differs from ZENDESK_WEBHOOK_SECRET")
    p.add_argument("--show-secret", action="store_true",
                   help="print the signing secret (when it differs) instead of writing a file")
    roll = p.add_mutually_exclusive_group()
    roll.add_argument("--rotate-secret", action="store_true",
                      help="step 1 of a secret roll: a second, inactive webhook whose secret "
                           "is written to --secret-file (docs/operations.md)")
    roll.add_argument("--finish", action="store_true",
                      help="step 2: switch to the new webhook once its secret is configured")
    add_brand_option(p, "also this brand's Klaviyo webhook, pointed at PUBLIC_URL/webhooks/"
                        "klaviyo/NAME (the default brand's: /webhooks/klaviyo)")
    p.set_defaults(run=cmd_provision)


def cmd_provision(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.public_url:
        print("PUBLIC_URL is not set: set it to the https address where Zendesk reaches this "
              "bridge's receiver, e.g. https://bridge.example.com", file=sys.stderr)
        return 2
    if args.rotate_secret or args.finish:
        return (rotation.cmd_rotate if args.rotate_secret else rotation.cmd_finish)(
            args, settings)
    if args.automation and (args.close_after_hours is None or args.close_after_hours < 1):
        print("--automation needs --close-after-hours N (N ≥ 1): SMS tickets solved at least N "
              "hours ago are closed", file=sys.stderr)
        return 2
    try:
        report = provision.provision(
            Patient(bootstrap.zendesk_admin(settings)), settings.public_url,
            settings.zendesk_webhook_secrets, view=args.view, context_field=args.context_field,
            close_after_hours=args.close_after_hours if args.automation else None)
    except Permanent as e:
        hint = (": the API user must be a Zendesk admin to manage webhooks, views and "
                "automations" if e.status in (401, 403) else "")
        print(f"Zendesk refused ({e}){hint}. Nothing after that step was changed.",
              file=sys.stderr)
        return 1
    except UpstreamError as e:
        print(f"Zendesk did not answer ({e}), also when asked again; run the same command "
              "later (it is idempotent).",
              file=sys.stderr)
        return 1
    for outcome in report.outcomes:
        print(outcome.sentence())
    status = _tell_secret(report, args.secret_file, args.show_secret)
    brand = chosen(args, settings)
    if brand is None:
        return status
    return status if _klaviyo_webhook(settings, brand) == 0 else 1


def _tell_secret(report: provision.Report, secret_file: str | None, show: bool) -> int:
    """Say whether the signing secret matches; write it to a file (0600) or, with
    --show-secret only, print it. Status 1 when it must still be set and was not handed over."""
    if report.secret_matches:
        print("Signing secret: the webhook signs with the secret in ZENDESK_WEBHOOK_SECRET; "
              "nothing to do.")
        return 0
    why = ("The webhook signs its deliveries with a secret that is not the one in "
           "ZENDESK_WEBHOOK_SECRET, so the receiver rejects them (401) until you set it and "
           "restart the receiver (web).")
    if secret_file:
        write_secret(secret_file, report.secret)
        print(f"{why}\nThe signing secret was written to {secret_file} (mode 600): set "
              f"ZENDESK_WEBHOOK_SECRET to its content.")
        return SECRET_TO_SET
    if not show:   # terminals get recorded (scrollback, CI logs, screen shares)
        print(f"{why}\nRun the same command with --secret-file PATH to write the signing "
              f"secret to a file only you can read (or --show-secret to print it).",
              file=sys.stderr)
        return 1
    print(f"{why}\nSet ZENDESK_WEBHOOK_SECRET to this value (keep it secret; it is shown only "
          f"while the two differ):\n\n    {report.secret}\n")
    return SECRET_TO_SET


def _klaviyo_webhook(settings: Settings, brand: Brand) -> int:
    """The brand's Klaviyo webhook (0: done; 1: refused or unanswered, said why)."""
    mine = bootstrap.for_brand(settings, brand)
    api = Patient(KlaviyoAdmin(bootstrap.klaviyo_client(mine).http))
    field = ("KLAVIYO_WEBHOOK_SECRET" if brand.is_default
             else f"klaviyo_webhook_secret of brand {brand.name!r} in BRANDS_FILE")
    try:
        outcome = klaviyo_webhook.ensure_klaviyo_webhook(
            api, str(settings.public_url), brand.name, brand.klaviyo_webhook_secrets[0])
    except Permanent as e:
        steps = klaviyo_webhook.manual_steps(str(settings.public_url), brand.name, field)
        why = ("Klaviyo lets only Advanced KDP accounts manage webhooks by API, and the key "
               "needs webhooks:read and webhooks:write" if e.status in (401, 403) else str(e))
        print(f"Klaviyo refused to manage brand {brand.name}'s webhook ({why}): {steps}.",
              file=sys.stderr)
        return 1
    except UpstreamError as e:
        print(f"Klaviyo did not answer ({e}), also when asked again; run the same command "
              "later (it is idempotent).", file=sys.stderr)
        return 1
    print(outcome.sentence())
    return 0
