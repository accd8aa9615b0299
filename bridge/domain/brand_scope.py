"""Which brand the work in hand belongs to (rule E7, #16), and how an event ref names it.

One deployment serves several brands (bridge/brands.py). A job learns its brand once, where it
starts (the webhook route a Klaviyo event came in on, the Zendesk brand of a ticket), and
everything it then does runs inside `scope(brand)`: the Redis keys of a brand's own data
(adapters/redis_keys.py), its Klaviyo budgets and the fair share of the shared Zendesk budget
(budgets.py) read the brand from here, so no handler passes it through every call and no
call can forget it. Outside any scope the brand is `default`, which is exactly today's
single-brand behaviour (same keys, same refs).

Event refs carry the brand of a Klaviyo event so a task's argument stays a JSON string and the
task names stay stable: `klaviyo:<id>` for the default brand (today's refs), and
`klaviyo@<brand>:<id>` for the others. Zendesk refs never carry one (one Zendesk account):
their brand comes from the ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT = "default"
_brand: ContextVar[str] = ContextVar("zkb_brand", default=DEFAULT)


def current() -> str:
    """The brand of the work in hand (`default` outside any scope)."""
    return _brand.get()


@contextmanager
def scope(brand: str | None) -> Iterator[str]:
    """Run the block as `brand`'s work (None: the default brand)."""
    token = _brand.set(brand or DEFAULT)
    try:
        yield brand or DEFAULT
    finally:
        _brand.reset(token)


def make_ref(source: str, event_id: str, brand: str = DEFAULT) -> str:
    """`source:id`, with `@brand` after the source for a brand other than the default."""
    if brand == DEFAULT:
        return f"{source}:{event_id}"
    return f"{source}@{brand}:{event_id}"


def source_of(ref: str) -> str:
    """`klaviyo` of `klaviyo@shop2:01J...` and of `klaviyo:01J...`."""
    return ref.split(":", 1)[0].split("@", 1)[0]


def brand_of(ref: str) -> str:
    """The brand a ref names (`default` when it names none, as every Zendesk ref)."""
    head = ref.split(":", 1)[0]
    return head.split("@", 1)[1] if "@" in head else DEFAULT
