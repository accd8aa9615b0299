"""Sandbox settings, from environment variables (documented in the README's Sandbox section)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8025
    zendesk_email: str = "bridge@acme-shop.test"
    zendesk_api_token: str = "sandbox-zendesk-token"
    zendesk_oauth_token: str = "sandbox-zendesk-oauth"
    zendesk_oauth_client_id: str = "zkbridge"
    zendesk_oauth_client_secret: str = "sandbox-oauth-client-secret"
    zendesk_oauth_token_seconds: int = 3600
    zendesk_subdomain: str = "acme"
    zendesk_webhook_url: str | None = None
    zendesk_webhook_secret: str = "sandbox-zendesk-webhook-secret"
    klaviyo_api_key: str = "pk_sandbox_key"
    klaviyo_webhook_url: str | None = None
    klaviyo_webhook_secret: str = "sandbox-klaviyo-webhook-secret"
    # The second Klaviyo account (seed.BOLT; rule E7): its own key, webhook URL and secret.
    klaviyo2_api_key: str = "pk_sandbox_bolt_key"
    klaviyo2_webhook_url: str | None = None
    klaviyo2_webhook_secret: str = "sandbox-bolt-webhook-secret"
    production_limits: bool = True   # rate limits at the vendors' published values

    @classmethod
    def from_env(cls) -> SandboxConfig:
        env = os.environ
        c = cls()
        c.host = env.get("SANDBOX_HOST", c.host)
        c.port = int(env.get("SANDBOX_PORT", c.port))
        c.zendesk_email = env.get("SANDBOX_ZENDESK_EMAIL", c.zendesk_email)
        c.zendesk_api_token = env.get("SANDBOX_ZENDESK_API_TOKEN", c.zendesk_api_token)
        c.zendesk_oauth_token = env.get("SANDBOX_ZENDESK_OAUTH_TOKEN", c.zendesk_oauth_token)
        c.zendesk_oauth_client_id = env.get("SANDBOX_ZENDESK_OAUTH_CLIENT_ID",
                                            c.zendesk_oauth_client_id)
        c.zendesk_oauth_client_secret = env.get("SANDBOX_ZENDESK_OAUTH_CLIENT_SECRET",
                                                c.zendesk_oauth_client_secret)
        c.zendesk_oauth_token_seconds = int(env.get("SANDBOX_ZENDESK_OAUTH_TOKEN_SECONDS",
                                                    c.zendesk_oauth_token_seconds))
        c.zendesk_webhook_url = env.get("SANDBOX_ZENDESK_WEBHOOK_URL") or None
        c.zendesk_webhook_secret = env.get("SANDBOX_ZENDESK_WEBHOOK_SECRET",
                                           c.zendesk_webhook_secret)
        c.klaviyo_api_key = env.get("SANDBOX_KLAVIYO_API_KEY", c.klaviyo_api_key)
        c.klaviyo_webhook_url = env.get("SANDBOX_KLAVIYO_WEBHOOK_URL") or None
        c.klaviyo_webhook_secret = env.get("SANDBOX_KLAVIYO_WEBHOOK_SECRET",
                                           c.klaviyo_webhook_secret)
        c.klaviyo2_api_key = env.get("SANDBOX_KLAVIYO2_API_KEY", c.klaviyo2_api_key)
        c.klaviyo2_webhook_url = env.get("SANDBOX_KLAVIYO2_WEBHOOK_URL") or None
        c.klaviyo2_webhook_secret = env.get("SANDBOX_KLAVIYO2_WEBHOOK_SECRET",
                                            c.klaviyo2_webhook_secret)
        c.production_limits = env.get("SANDBOX_PRODUCTION_LIMITS", "true").lower() != "false"
        return c
