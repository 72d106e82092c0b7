"""gunicorn entry point: `gunicorn addin_server.wsgi:app`."""

from addin_server import create_app

app = create_app()
