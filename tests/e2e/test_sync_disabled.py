"""SYNC_SMS_CONVERSATIONS=false (Klaviyo's default): texts are acknowledged, counted, dropped."""

from __future__ import annotations

import pytest
import requests

from scripts.devstack import Stack
from tests.e2e.harness import ALICE, Bridge, wait_for

pytestmark = pytest.mark.e2e


def test_with_sync_off_texts_are_acknowledged_counted_and_dropped(tmp_path) -> None:  # noqa: ANN001
    stack = Stack(workdir=tmp_path, processes=("sandbox", "web", "worker"),
                  extra_env={"SYNC_SMS_CONVERSATIONS": "false"})
    try:
        stack.start()
        bridge = Bridge(stack)
        bridge.text(ALICE, "hello")
        bridge.text(ALICE, "anyone?")
        wait_for(lambda: bridge.counters().get("inbound_sms:dropped:sync_disabled") == 2,
                 what="two counted drops")
        deliveries = bridge.deliveries("klaviyo")
        assert [d["attempts"][-1]["status"] for d in deliveries] == [202, 202]
        assert bridge.tickets() == []
        assert requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=5).json()[
            "calls"].get("zendesk POST /api/v2/tickets") is None
    finally:
        stack.stop()
