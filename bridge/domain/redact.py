"""Masking personal data in free text (E5): phone numbers and emails become recognisable but
not readable. Pure, so logs, the ops page and the CLI all mask the same way.

The scrubber runs on every log line, including gunicorn's access lines whose contents anyone on
the internet chooses, so it must cost time linear in what it reads and read a bounded amount:

- every quantifier in its patterns is bounded (`{m,n}`, never `+`, `*` or `{m,}`), and each
  pattern starts at a fixed character (`+`) or only where a run of its characters starts (a
  look-behind), so a long run of word characters is scanned a bounded number of times;
- a line longer than `LINE_CAP` characters is cut there (what is not read is not written), with
  a marker saying how much was cut.

URL-encoded forms (`%2B1500...`, `alice%40example.com`) are masked too: requests' messages and
query strings carry them.
"""

from __future__ import annotations

import re

from bridge.domain.phones import mask, mask_email

LINE_CAP = 4096
MASKS_PER_LINE = 32   # numbers masked the careful way per line; the rest fully
_PHONE = re.compile(r"(?:\+|%2[Bb])(\d{7,15})")
_EMAIL = re.compile(r"(?<![\w.+%-])([\w.+-]{1,64})(?:@|%40)([\w-]{1,63}(?:\.[\w-]{1,63}){1,8})")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}://)[^\s/@]{1,256}@")
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:password|passwd|pwd|token|secret|api_key|key)=)"
                           r"[^&#\s\"']{1,512}")
PATTERNS = (_PHONE, _EMAIL, _USERINFO, _SECRET_PARAM)


def scrub(text: str) -> str:
    """Mask phone numbers and emails inside free text, each line cut at `LINE_CAP`."""
    return "\n".join(_scrub_line(line) for line in text.split("\n"))


def _scrub_line(line: str) -> str:
    cut = len(line) - LINE_CAP
    if cut > 0:
        line = line[:LINE_CAP]
    seen = iter(range(MASKS_PER_LINE))
    line = _PHONE.sub(lambda m: _mask_phone(m.group(1), next(seen, None) is None), line)
    line = _EMAIL.sub(lambda m: mask_email(f"{m.group(1)}@{m.group(2)}"), line)
    return line + (f"…[{cut} characters cut]" if cut > 0 else "")


def _mask_phone(digits: str, hurry: bool) -> str:
    """Past `MASKS_PER_LINE` numbers on a line, mask without parsing (parsing costs ~10 µs)."""
    return "+" + "•" * len(digits) if hurry else mask("+" + digits)


def redact_url(text: str) -> str:
    """A URL (or any text holding URLs) fit to show: userinfo (`user:password@`) and
    password-like query parameters (`?password=...`) replaced by `***`."""
    return redact_params(_USERINFO.sub(lambda m: f"{m.group(1)}***@", text))


def redact_params(text: str) -> str:
    """Password-like query parameters (`?password=...`, `&token=...`) replaced by `***`."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}***", text)


def printable(text: str) -> str:
    """`text` for a terminal: C0 and C1 control characters (and DEL) shown as `\\xNN` escapes, so
    stored text cannot move the cursor, retitle the window or hide what follows."""
    return "".join(c if not _is_control(c) else f"\\x{ord(c):02x}" for c in text)


def _is_control(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or 0x7F <= code <= 0x9F
