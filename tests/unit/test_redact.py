"""The scrubber (E5) masks what it must and costs a bounded, linear amount per line (issue 13:
an 8 KB User-Agent used to cost ~0.3 s of CPU per access-log line)."""

from __future__ import annotations

import re
import re._constants as sre_constants
import re._parser as sre_parse

from bridge.domain import redact
from bridge.domain.redact import LINE_CAP, printable, redact_url, scrub
from scripts.devstack import procfile

PHONE, EMAIL = "+15005550101", "ana.customer@example.com"


def unbounded_repeats(pattern: str) -> list[str]:
    """Every `+`, `*` or `{m,}` in a regular expression (sre's parse tree, nested too)."""
    found: list[str] = []

    def walk(items: object) -> None:
        for op, arg in items:  # type: ignore[attr-defined]
            if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                low, high, sub = arg
                if high == sre_constants.MAXREPEAT:
                    found.append(f"{{{low},}}")
                walk(sub)
            elif op in (sre_constants.SUBPATTERN,):
                walk(arg[-1])
            elif op == sre_constants.BRANCH:
                for branch in arg[1]:
                    walk(branch)
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                walk(arg[1])

    walk(sre_parse.parse(pattern))
    return found


def test_the_checker_sees_unbounded_repeats() -> None:
    assert unbounded_repeats(r"[\w.+-]+@x") == ["{1,}"]
    assert unbounded_repeats(r"(?:a|b*)c") == ["{0,}"]
    assert unbounded_repeats(r"a{1,64}(?:\.b{1,3}){1,8}") == []


def test_every_scrubber_pattern_is_bounded() -> None:
    for pattern in redact.PATTERNS:
        assert isinstance(pattern, re.Pattern)
        assert unbounded_repeats(pattern.pattern) == [], pattern.pattern


def test_a_line_is_read_up_to_the_cap_and_the_rest_is_cut_not_written() -> None:
    assert 1024 <= LINE_CAP <= 16384
    hostile = "a" * 40_000 + f" {PHONE} {EMAIL}"
    out = scrub(hostile)
    assert len(out) <= LINE_CAP + 40
    assert out.endswith(f"…[{len(hostile) - LINE_CAP} characters cut]")
    assert "0101" not in out and "ana.customer" not in out


def test_the_cap_is_per_line_so_a_traceback_keeps_its_short_lines() -> None:
    lines = ["x" * 10_000, f"call {PHONE}", "y" * 10]
    out = scrub("\n".join(lines)).split("\n")
    assert len(out) == 3 and len(out[0]) < LINE_CAP + 40
    assert out[1] == "call +1••••••0101" and out[2] == "y" * 10


def test_phones_and_emails_are_masked_plain_and_url_encoded() -> None:
    text = (f"{PHONE} {EMAIL} filter=equals(phone_number,%22%2B15005550101%22) "
            f"external_id=zkb-sms%3A%2b15005550101%3A%2B18005550100 "
            f"email=ana.customer%40example.com")
    out = scrub(text)
    assert "5005550101" not in out and "8005550100" not in out
    assert "ana.customer" not in out
    assert out.count("+1••••••0101") == 3 and out.count("a•••@example.com") == 2


def test_passwords_and_userinfo_in_urls_are_redacted() -> None:
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://***@redis:6379/0"
    assert redact_url("redis://redis:6379/0?password=s3cret&db=2") == \
        "redis://redis:6379/0?password=***&db=2"
    assert redact_url("see https://u:p@acme.zendesk.com/x") == "see https://***@acme.zendesk.com/x"
    assert redact_url("https://acme.zendesk.com") == "https://acme.zendesk.com"


def test_control_characters_are_shown_as_escapes_for_terminals() -> None:
    assert printable("ok\x1b]0;pwned\x07\x9b2J\x7f é 😀") == \
        "ok\\x1b]0;pwned\\x07\\x9b2J\\x7f é 😀"


def test_gunicorn_access_lines_carry_no_user_agent_or_referer() -> None:
    web = procfile()["web"]
    fmt = re.search(r'--access-logformat "([^"]+)"', web)
    assert fmt, web
    assert "%(a)s" not in fmt.group(1) and "%(f)s" not in fmt.group(1)
    assert "%({" not in fmt.group(1)     # no request headers at all
