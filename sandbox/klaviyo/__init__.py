"""The Klaviyo half of the sandbox.

`api` is the blueprint (`/api/...`); `state` the in-memory account; `jsonapi` Klaviyo's JSON:API
shapes, errors and filters; `admin` the texting and inspection routes under `/_sandbox/klaviyo`;
`webhooks` the outgoing system webhooks; `webhook_api` the Webhooks API that manages them (kept,
never sent to).
"""
