"""Which Redis keys belong to one brand (E7, #16; docs/brands.md "Keys by brand").

One Klaviyo account's data (its profiles and context, the texts it sent and echoed, its
customers' support counts, its metric buffer, its Klaviyo budgets) gets `zkb:brand:<name>:`
after `zkb:`, for the brand in scope (domain/brand_scope.py). The default brand keeps today's
names, so upgrading a single-brand deployment changes nothing (no migration). `zkb:brand:`
starts no other key and a name is a slug without `:`, so no two brands' keys can meet. Keys not
scoped cannot meet either: Klaviyo event refs carry `@<brand>`, conversations and the open-SMS
index are keyed by the brand number (unique across brands), and the rest is the one Zendesk
account's (tickets, comments, replies, intents, its budgets, bulk jobs, the OAuth token),
ordering and scheduling.
"""

from __future__ import annotations

from bridge.domain.brand_scope import DEFAULT, current

BRAND_SCOPED = ("zkb:profile:", "zkb:context:", "zkb:sent:", "zkb:echo:", "zkb:support:",
                "zkb:metrics:", "zkb:quota:klaviyo-")
DEFAULT_BRAND = DEFAULT


def brand_key(key: str, brand: str) -> str:
    """`key` as brand `brand` keeps it: unchanged for the default brand and for shared keys."""
    if brand == DEFAULT_BRAND or not key.startswith(BRAND_SCOPED):
        return key
    return f"zkb:brand:{brand}:{key.removeprefix('zkb:')}"


def scoped(key: str) -> str:
    """`key` as the brand of the work in hand keeps it."""
    return brand_key(key, current())
