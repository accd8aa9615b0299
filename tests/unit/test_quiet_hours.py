"""Rule A8 quiet hours as pure functions: the window on the customer's clock (their zone from
the phone number, else the fallback zone), across midnight and daylight-saving changes; and
the hold decisions of A8 and S10 (bridge/domain/reply_holds.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.domain import quiet_hours
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.quiet_hours import customer_zone, parse, window_end
from bridge.domain.reply_holds import (
    OPT_OUT_REQUEST,
    QUIET_HOURS,
    SEND_NOW_TAG,
    Hold,
    decide_hold,
    released_by,
)

NEW_YORK = "+12125550100"      # area code 212: one zone, America/New_York
PARIS = "+33612345678"         # Europe/Paris
TOKYO = "+81312345678"         # Asia/Tokyo, no daylight saving
BOISE = "+12085550100"         # area code 208: America/Boise and America/Los_Angeles
TOLL_FREE = "+18005550100"     # all of the +1 zones
UK_MOBILE = "+447700900105"    # libphonenumber answers Etc/Unknown
NIGHT = parse("21:00-08:00", "Asia/Tokyo")


def at(zone: str, *when: int) -> float:
    """Epoch seconds of a wall-clock time in `zone` (year, month, day, hour, minute)."""
    return datetime(*when, tzinfo=ZoneInfo(zone)).timestamp()


# --- the customer's zone ----------------------------------------------------------------------

def test_a_number_with_one_zone_uses_it() -> None:
    assert customer_zone(NEW_YORK, "Asia/Tokyo") == "America/New_York"
    assert customer_zone(PARIS, "Asia/Tokyo") == "Europe/Paris"


@pytest.mark.parametrize("phone", [BOISE, TOLL_FREE, UK_MOBILE, "not a number"])
def test_a_number_with_several_zones_or_none_uses_the_fallback(phone: str) -> None:
    assert customer_zone(phone, "Europe/Berlin") == "Europe/Berlin"


# --- the window ---------------------------------------------------------------------------------

def test_outside_the_window_the_reply_goes_now() -> None:
    assert window_end(NEW_YORK, at("America/New_York", 2026, 11, 25, 14, 0), NIGHT) is None
    assert window_end(NEW_YORK, at("America/New_York", 2026, 11, 25, 8, 0), NIGHT) is None


def test_a_window_that_wraps_midnight_ends_the_next_morning_before_midnight() -> None:
    now = at("America/New_York", 2026, 11, 25, 22, 30)
    assert window_end(NEW_YORK, now, NIGHT) == at("America/New_York", 2026, 11, 26, 8, 0)


def test_a_window_that_wraps_midnight_ends_the_same_morning_after_midnight() -> None:
    now = at("America/New_York", 2026, 11, 26, 3, 0)
    assert window_end(NEW_YORK, now, NIGHT) == at("America/New_York", 2026, 11, 26, 8, 0)


def test_the_window_starts_on_its_first_minute() -> None:
    now = at("America/New_York", 2026, 11, 25, 21, 0)
    assert window_end(NEW_YORK, now, NIGHT) == at("America/New_York", 2026, 11, 26, 8, 0)


def test_a_window_within_one_day() -> None:
    lunch = parse("12:00-13:30", "UTC")
    assert window_end(PARIS, at("Europe/Paris", 2026, 6, 1, 12, 45), lunch) == \
        at("Europe/Paris", 2026, 6, 1, 13, 30)
    assert window_end(PARIS, at("Europe/Paris", 2026, 6, 1, 11, 59), lunch) is None
    assert window_end(PARIS, at("Europe/Paris", 2026, 6, 1, 13, 30), lunch) is None


def test_the_same_instant_is_quiet_for_one_customer_and_not_for_another() -> None:
    now = at("America/New_York", 2026, 11, 25, 22, 0)          # 12:00 the next day in Tokyo
    assert window_end(NEW_YORK, now, NIGHT) is not None
    assert window_end(TOKYO, now, NIGHT) is None


def test_a_number_without_its_own_zone_follows_the_fallback_zone() -> None:
    now = at("Asia/Tokyo", 2026, 11, 25, 23, 0)
    assert window_end(TOLL_FREE, now, NIGHT) == at("Asia/Tokyo", 2026, 11, 26, 8, 0)
    assert window_end(TOLL_FREE, now, parse("21:00-08:00", "Europe/Paris")) is None


def test_the_window_keeps_its_local_times_across_the_spring_daylight_saving_change() -> None:
    """New York springs forward on 8 March 2026: that night is an hour shorter."""
    now = at("America/New_York", 2026, 3, 7, 22, 0)
    end = window_end(NEW_YORK, now, NIGHT)
    assert end == at("America/New_York", 2026, 3, 8, 8, 0)
    assert end - now == 9 * 3600


def test_the_window_keeps_its_local_times_across_the_autumn_daylight_saving_change() -> None:
    """New York falls back on 1 November 2026: that night is an hour longer."""
    now = at("America/New_York", 2026, 10, 31, 22, 0)
    end = window_end(NEW_YORK, now, NIGHT)
    assert end == at("America/New_York", 2026, 11, 1, 8, 0)
    assert end - now == 11 * 3600


def test_a_window_ending_in_the_skipped_hour_never_ends_early() -> None:
    """02:30 does not exist in New York on 8 March 2026; the window ends after the gap."""
    small_hours = parse("01:00-02:30", "UTC")
    now = at("America/New_York", 2026, 3, 8, 1, 30)
    end = window_end(NEW_YORK, now, small_hours)
    assert end is not None and end > now
    assert datetime.fromtimestamp(end, ZoneInfo("America/New_York")).hour == 3


# --- parsing and the note's wording -----------------------------------------------------------

@pytest.mark.parametrize("window", ["21-08", "25:00-08:00", "21:00-21:00", "21:00", ""])
def test_a_malformed_window_is_refused(window: str) -> None:
    with pytest.raises(ValueError):
        parse(window, "UTC")


def test_an_unknown_fallback_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="IANA"):
        parse("21:00-08:00", "Mars/Olympus_Mons")


def test_the_note_names_the_time_on_the_customers_clock() -> None:
    end = at("America/New_York", 2026, 11, 26, 8, 0)
    assert quiet_hours.local_time(end, "America/New_York") == \
        "08:00 on Thu 26 Nov (America/New_York)"


# --- A8 and S10: hold or send -------------------------------------------------------------------

def test_quiet_hours_hold_a_reply_until_the_window_ends() -> None:
    assert decide_hold(frozenset({"sms"}), now=100.0, quiet_until=5000.0,
                       opt_out_recheck=900) == Hold(QUIET_HOURS, 5000.0)


def test_the_send_now_tag_lifts_quiet_hours() -> None:
    assert decide_hold(frozenset({"sms", SEND_NOW_TAG}), now=100.0, quiet_until=5000.0,
                       opt_out_recheck=900) is None


def test_outside_quiet_hours_and_without_an_opt_out_request_a_reply_is_not_held() -> None:
    assert decide_hold(frozenset({"sms"}), now=100.0, quiet_until=None,
                       opt_out_recheck=900) is None


def test_an_opt_out_request_holds_a_reply_even_with_send_now_and_is_checked_again() -> None:
    tags = frozenset({"sms", OPT_OUT_REQUEST_TAG, SEND_NOW_TAG})
    assert decide_hold(tags, now=100.0, quiet_until=None, opt_out_recheck=900) == \
        Hold(OPT_OUT_REQUEST, 1000.0)
    assert decide_hold(tags, now=100.0, quiet_until=5000.0, opt_out_recheck=900) == \
        Hold(OPT_OUT_REQUEST, 1000.0)


def test_what_a_tags_change_releases() -> None:
    assert released_by(QUIET_HOURS, frozenset({"sms", SEND_NOW_TAG}))
    assert not released_by(QUIET_HOURS, frozenset({"sms"}))
    assert released_by(OPT_OUT_REQUEST, frozenset({"sms"}))
    assert not released_by(OPT_OUT_REQUEST, frozenset({"sms", OPT_OUT_REQUEST_TAG}))
    assert released_by(QUIET_HOURS, None)      # tags unknown: look again
