"""gunicorn entry point: `gunicorn addin_server.wsgi:app`."""

import sys

from addin_server import create_app
from addin_server.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line saying what to set, not a traceback; gunicorn then stops.
    sys.exit(f"addin-server: {exc}")
