"""`--brand NAME` of `zkbridge check | provision | failed | backfill` (rule E7, #16;
docs/brands.md item 6): which of the configured brands (the default one from the environment
variables, the others from BRANDS_FILE) a command acts for. Unknown names are refused before
anything runs, naming the configured ones (exit 2, like every usage error)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bridge.brands import Brand, brand_for_ticket, brand_named, default_brand
from bridge.config import Settings
from bridge.domain.coerce import as_id
from bridge.domain.model import parse_external_id

HELP = "act for this brand only (default, or a name in BRANDS_FILE)"


def add_brand_option(parser: argparse.ArgumentParser, help_text: str = HELP) -> None:
    parser.add_argument("--brand", metavar="NAME", help=help_text)


def unknown_brand(brands: tuple[Brand, ...], name: str | None) -> str | None:
    """What to say when `--brand` names no configured brand (None: it does, or was not given)."""
    if name is None or brand_named(brands, name) is not None:
        return None
    names = ", ".join(b.name for b in brands)
    return (f"no brand named {name!r} is configured; the configured brands are: {names} "
            f"(`default` is the environment variables' brand, the others come from BRANDS_FILE)")


def brands_of(args: argparse.Namespace, settings: Settings) -> tuple[Brand, ...]:
    """The brands main() loaded (one, the default, when a command is called on its own)."""
    return getattr(args, "brands", None) or (default_brand(settings),)


def chosen(args: argparse.Namespace, settings: Settings) -> Brand | None:
    """The brand `--brand` names (checked by main()), or None when not given."""
    name = getattr(args, "brand", None)
    return brand_named(brands_of(args, settings), name) if name else None


def tickets_of(brands: tuple[Brand, ...], brand: Brand) -> Callable[[dict[str, Any]], bool]:
    """Whether a Zendesk ticket (as the export lists it) is `brand`'s: by its Zendesk brand id,
    else its SMS conversation's brand number, else the default brand's (brands.brand_for_ticket,
    as live events are routed). With one brand every ticket is its."""
    if len(brands) == 1:
        return lambda ticket: True

    def wanted(ticket: dict[str, Any]) -> bool:
        conv = parse_external_id(ticket.get("external_id") if isinstance(
            ticket.get("external_id"), str) else None)
        number = conv[1].removeprefix("wa:") if conv else None   # a WhatsApp conversation's
        return brand_for_ticket(brands, as_id(ticket.get("brand_id")), number).name == brand.name
    return wanted
