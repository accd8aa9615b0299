"""Reading a webhook's body within MAX_WEBHOOK_BYTES, whether its length is declared or not.

A declared length over the limit is refused by werkzeug before anything is read. A chunked body
(no Content-Length; gunicorn sets `wsgi.input_terminated`) is silently truncated at the limit by
werkzeug, so the signature check then failed (401) and the sender never learned why: here it is
read to one byte past the limit, and more than the limit is a 413 (E4).
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

CHUNK = 64 * 1024


def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or RequestEntityTooLarge when it is longer than `limit` bytes."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)
    stream = request.environ["wsgi.input"]
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)
