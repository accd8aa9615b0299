"""`python -m sandbox` / `zkbridge-sandbox`: run the Zendesk + Klaviyo stand-in on one port."""

from __future__ import annotations

import logging

from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import SandboxConfig


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = SandboxConfig.from_env()
    app = create_app(config)
    server = make_server(config.host, config.port, app, threaded=True)
    print(f"sandbox listening on http://{config.host}:{config.port}/  (phone and desk UI)",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
