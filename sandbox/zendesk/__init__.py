"""The Zendesk half of the sandbox.

`api` is the blueprint (`/api/v2/...`); `state` the in-memory account and its rules, on the
types of `model`; `webhooks` sends event-subscription deliveries, `webhook_api` provisions the
subscriptions; `rules` serves views and automations; `desk` and `bulk` are the desk/admin
routes under `/_sandbox/zendesk`.
"""
