"""Serve a WSGI app on 127.0.0.1 in a thread (plain HTTP or TLS), for the fakes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # keep pytest output readable
        pass


@dataclass
class Running:
    base_url: str
    server: BaseWSGIServer


@contextmanager
def serve(app: Any, *, tls: tuple[str, str] | None = None) -> Iterator[Running]:
    """`tls` is (cert_file, key_file). The port is chosen by the OS."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tls,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fake-server", daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield Running(f"{scheme}://127.0.0.1:{server.server_port}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
