"""gunicorn entry point: `gunicorn webapp.wsgi:app`. Fails fast on bad configuration."""

from webapp.app import create_app

app = create_app()
