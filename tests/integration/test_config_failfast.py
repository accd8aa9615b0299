"""The receiver refuses to start without its configuration, and names every missing variable at
once (not one crash at a time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BRIDGE_VARS = ("ZENDESK_", "KLAVIYO_", "SYNC_SMS", "SMS_", "REDIS_URL", "ALLOW_INSECURE",
               "MAX_WEBHOOK", "MAX_ATTEMPTS", "INBOUND_SETTLE", "CELERY_", "PORT")


def test_the_wsgi_app_will_not_start_without_credentials_and_names_each_missing_one() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(BRIDGE_VARS)}
    env["PYTHONPATH"] = str(ROOT)
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"   # never reached: configuration fails first

    done = subprocess.run([sys.executable, "-c", "import webapp.wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    for name in ("ZENDESK_URL", "ZENDESK_WEBHOOK_SECRET", "KLAVIYO_API_KEY",
                 "KLAVIYO_WEBHOOK_SECRET"):
        assert f"{name} is not set" in done.stderr
    assert "ZENDESK_OAUTH_TOKEN" in done.stderr
    assert "ZENDESK_EMAIL and ZENDESK_API_TOKEN" in done.stderr
    assert "ConfigError" in done.stderr
