"""Rule A8 quiet hours: is it quiet where the customer is, and until when?

Pure: `now` comes in as epoch seconds, the window and the fallback zone as values. The
customer's time zone comes from their phone number (libphonenumber's time-zone data, the
`phonenumbers` package the bridge already uses for S3). A number that maps to exactly one zone
uses it; one that maps to several (US toll-free and +1 500 numbers, area codes that straddle a
zone line, Australian mobiles) or to none (`Etc/Unknown`, e.g. UK mobiles) uses the brand's
fallback zone (`QUIET_HOURS_TZ`): guessing one of several zones would be right for some
customers and wrong for others, the brand's own zone is at least the one its agents know.

Wall-clock arithmetic is done in the zone (zoneinfo), so a window keeps its local times across
daylight-saving changes. A window end that falls in a skipped hour (spring forward) is read
with the offset before the change, i.e. the first instant after the gap: never early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones

WINDOW = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*$")
UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True)
class QuietHours:
    """`QUIET_HOURS` (start, end: local wall-clock times; end < start wraps midnight) and the
    zone used when the phone number does not tell one (`QUIET_HOURS_TZ`)."""

    start: time
    end: time
    fallback_zone: str

    @property
    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse(window: str, fallback_zone: str) -> QuietHours:
    """`"21:00-08:00"` and an IANA zone name -> QuietHours; ValueError saying what is wrong."""
    m = WINDOW.match(window or "")
    if not m:
        raise ValueError(f"{window!r} must look like 21:00-08:00 (24-hour HH:MM-HH:MM)")
    start, end = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
    if start == end:
        raise ValueError(f"{window!r} starts and ends at the same time")
    zone(fallback_zone)
    return QuietHours(start, end, fallback_zone)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. America/New_York)") from e


def customer_zone(phone: str, fallback_zone: str) -> str:
    """The one zone the number belongs to, else `fallback_zone` (see the module docstring)."""
    try:
        zones = phone_zones.time_zones_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return fallback_zone
    if len(zones) == 1 and zones[0] != UNKNOWN_ZONE:
        return zones[0]
    return fallback_zone


def window_end(phone: str, now: float, quiet: QuietHours) -> float | None:
    """None when it is not quiet hours for the customer at `now` (send now); else the epoch
    second at which their quiet window ends."""
    tz = ZoneInfo(customer_zone(phone, quiet.fallback_zone))
    local = datetime.fromtimestamp(now, tz)
    ends_on = _end_date(local.time().replace(tzinfo=None), local.date(), quiet)
    if ends_on is None:
        return None
    end = datetime.combine(ends_on, quiet.end, tzinfo=tz).timestamp()   # fold=0: never early
    return end if end > now else None


def _end_date(t: time, today: date, quiet: QuietHours) -> date | None:
    """The local date the window around wall-clock `t` ends on, or None outside the window."""
    if quiet.start < quiet.end:                     # e.g. 12:00-14:00, within one day
        return today if quiet.start <= t < quiet.end else None
    if t >= quiet.start:                            # e.g. 21:00-08:00, before midnight
        return today + timedelta(days=1)
    return today if t < quiet.end else None         # after midnight


def local_time(epoch: float, zone_name: str) -> str:
    """When `epoch` is on the customer's clock, for a note: `08:00 on Wed 26 Nov
    (America/New_York)`."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(zone_name))
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b} ({zone_name})"
