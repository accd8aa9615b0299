"""A held reply (A8, S10) as the task layer sees it: the handler parked its ref in `zkb:due`
and raised a `Deferred` marked `scheduled`; the task ends without a Celery countdown, however
short or long the hold, so a hold never sits in a worker (a restart loses nothing) and a
release (`sms_send_now`) only has to bring the due time forward."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from bridge.adapters.store import Store
from bridge.errors import Deferred
from tests.fakes import store
from workers import base

app = Celery("test-held-reply-task", set_as_current=False)


class NoRetry(base.BridgeTask):
    def retry(self, *args: object, **kwargs: object):  # noqa: ANN201
        raise AssertionError("a held reply must not become a Celery countdown")


def hold(seconds: float, head: str) -> Deferred:
    held = Deferred(seconds, "reply held: quiet_hours")
    held.scheduled, held.ref = True, head
    return held


def task_raising(error: BaseException):  # noqa: ANN201
    @app.task(base=NoRetry, bind=True, name=f"bridge.t{uuid.uuid4().hex}", shared=False)
    def task(self: base.BridgeTask, ref: str) -> str:
        raise error
    return task


@pytest.fixture
def st(monkeypatch: pytest.MonkeyPatch) -> Store:
    s = store()
    monkeypatch.setattr(base.deps, "store", lambda: s)
    return s


@pytest.mark.parametrize("seconds", [30.0, 10 * 3600.0])
def test_the_held_reply_s_own_task_ends_and_its_ref_waits_in_zkb_due(st: Store,
                                                                     seconds: float) -> None:
    result = task_raising(hold(seconds, "zendesk:head")).apply(args=["zendesk:head"], throw=True)
    assert result.get().startswith("parked zendesk:head")
    assert st.due.holding(["zendesk:head"]) == {"zendesk:head"}


def test_a_later_reply_s_task_that_finds_the_head_held_only_ends(st: Store) -> None:
    st.due.park("zendesk:head", 5000.0)        # parked by the handler when it held the head
    result = task_raising(hold(600.0, "zendesk:head")).apply(args=["zendesk:later"], throw=True)
    assert "zendesk:head" in result.get()
    assert st.due.holding(["zendesk:head", "zendesk:later"]) == {"zendesk:head"}
    assert st.due.next_due() == 5000.0
