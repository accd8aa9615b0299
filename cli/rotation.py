"""`zkbridge provision --rotate-secret` and `--finish`: the two steps of rolling the Zendesk
webhook's signing secret without losing a delivery (bridge/ops/rotation.py says why)."""

from __future__ import annotations

import argparse
import sys

from bridge import bootstrap
from bridge.config import Settings
from bridge.errors import UpstreamError
from bridge.ops.rotation import RotationRefused, finish_rotation, start_rotation
from cli.retries import Patient
from cli.secret_file import write_secret


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Step 1: the inactive second webhook; its secret goes to --secret-file only."""
    if not args.secret_file:
        print("--rotate-secret needs --secret-file PATH: the new signing secret is written "
              "there (mode 600), never printed", file=sys.stderr)
        return 2
    try:
        outcome, secret = start_rotation(Patient(bootstrap.zendesk_admin(settings)),
                                         str(settings.public_url))
    except (RotationRefused, UpstreamError) as e:
        print(f"Not started: {e}", file=sys.stderr)
        return 1
    write_secret(args.secret_file, secret)
    print(outcome.sentence())
    print(f"Step 1 of 2 done. The new webhook's signing secret is in {args.secret_file} "
          "(mode 600). Add it after the current one, ZENDESK_WEBHOOK_SECRET=<current>,<new> (or "
          "in the file ZENDESK_WEBHOOK_SECRET_FILE names), restart the receiver (web), then run "
          "`zkbridge provision --finish`.")
    return 0


def cmd_finish(args: argparse.Namespace, settings: Settings) -> int:
    """Step 2: switch deliveries to the new webhook, once its secret is configured."""
    try:
        outcomes = finish_rotation(Patient(bootstrap.zendesk_admin(settings)),
                                   settings.zendesk_webhook_secrets)
    except (RotationRefused, UpstreamError) as e:
        print(f"Not finished: {e}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(outcome.sentence())
    print("Step 2 of 2 done: deliveries now come from the new webhook only. Remove the old "
          "secret from ZENDESK_WEBHOOK_SECRET and restart the receiver (web).")
    return 0
