"""The /ops page's browser-side hardening (issue 13): not framable, no content sniffing, not
cached, replay asks for confirmation as purge does, and no credential in what it shows."""

from __future__ import annotations

import re
from collections.abc import Callable

import redis

from tests.integration.conftest import Receiver
from tests.integration.test_ops_page import BEARER, TOKEN, basic, set_aside


def test_every_ops_answer_carries_the_security_headers(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    answers = [receiver.client.get("/ops", headers=BEARER),
               receiver.client.get("/ops", headers=basic("ops", "wrong-password-123456")),
               receiver.client.post("/ops/replay", headers=BEARER, data={"csrf": "stale"})]
    assert [a.status_code for a in answers] == [200, 401, 403]
    for answer in answers:
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"


def test_replay_buttons_ask_for_confirmation_like_purge(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    set_aside(receiver, r, "01JOPSCONFIRM1")
    page = receiver.client.get("/ops", headers=BEARER).text
    forms = re.findall(r"<form[^>]*>", page)
    replays = [f for f in forms if "/ops/replay" in f]
    purges = [f for f in forms if "/ops/purge" in f]
    assert len(replays) == 2 and len(purges) == 2     # all, and the one job
    for form in replays + purges:
        assert "onsubmit=\"return confirm(" in form, form

