"""Rolling the Zendesk webhook secret in two steps, with a fake Zendesk admin API: the new
webhook delivers nothing until its secret is configured; finishing leaves one webhook with the
old name and the new secret; both steps can be run again safely."""

from __future__ import annotations

import pytest

from bridge.ops.provision import WEBHOOK_NAME, provision
from bridge.ops.rotation import NEXT_NAME, RotationRefused, finish_rotation, start_rotation
from tests.unit.test_provision import URL, FakeZendesk


class Zendesk(FakeZendesk):
    def delete_webhook(self, webhook_id: str) -> None:
        del self.hooks[webhook_id]
        self.writes.append("delete webhook")


@pytest.fixture
def zendesk() -> Zendesk:
    z = Zendesk()
    provision(z, URL, "")
    return z


def names(z: Zendesk) -> dict[str, str]:
    return {h["name"]: h["status"] for h in z.hooks.values()}


def test_step_one_makes_an_inactive_second_webhook_and_hands_back_its_secret(
        zendesk: Zendesk) -> None:
    outcome, secret = start_rotation(zendesk, URL)
    assert names(zendesk) == {WEBHOOK_NAME: "active", NEXT_NAME: "inactive"}
    new = next(h for h in zendesk.hooks.values() if h["name"] == NEXT_NAME)
    old = next(h for h in zendesk.hooks.values() if h["name"] == WEBHOOK_NAME)
    assert secret == zendesk.secrets[new["id"]] != zendesk.secrets[old["id"]]
    assert new["subscriptions"] == old["subscriptions"] and new["endpoint"] == old["endpoint"]
    assert outcome.action == "created"
    again, same = start_rotation(zendesk, URL)
    assert (again.action, same) == ("unchanged", secret) and len(zendesk.hooks) == 2


def test_finishing_before_the_new_secret_is_configured_changes_nothing(
        zendesk: Zendesk) -> None:
    start_rotation(zendesk, URL)
    writes = list(zendesk.writes)
    with pytest.raises(RotationRefused, match="not in ZENDESK_WEBHOOK_SECRET yet"):
        finish_rotation(zendesk, ("the-old-secret",))
    assert zendesk.writes == writes


def test_finishing_leaves_one_active_webhook_with_the_old_name_and_the_new_secret(
        zendesk: Zendesk) -> None:
    old_secret = next(iter(zendesk.secrets.values()))
    _, new_secret = start_rotation(zendesk, URL)
    finish_rotation(zendesk, (old_secret, new_secret))
    assert names(zendesk) == {WEBHOOK_NAME: "active"}
    [hook_id] = zendesk.hooks
    assert zendesk.secrets[hook_id] == new_secret
    assert provision(zendesk, URL, new_secret).secret_matches      # provision agrees after


def test_an_interrupted_finish_carries_on_and_a_rotation_needs_a_webhook(
        zendesk: Zendesk) -> None:
    _, new_secret = start_rotation(zendesk, URL)
    old_id = next(h["id"] for h in zendesk.hooks.values() if h["name"] == WEBHOOK_NAME)
    zendesk.delete_webhook(old_id)                  # died after deleting, before renaming
    finish_rotation(zendesk, (new_secret,))
    assert names(zendesk) == {WEBHOOK_NAME: "active"}
    with pytest.raises(RotationRefused, match="no rotation in progress"):
        finish_rotation(zendesk, (new_secret,))
    with pytest.raises(RotationRefused, match="run `zkbridge provision` first"):
        start_rotation(Zendesk(), URL)
