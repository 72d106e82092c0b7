"""Serve a WSGI app on 127.0.0.1 in a thread (plain HTTP or TLS): the one way tests run a server.

Every fake (Google, Microsoft, Salesforce, the fault-injecting provider), the Flask app the
browser tests drive and the SMTP relay run through `in_thread`; `serve` adds the WSGI part.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log line per request (thousands in some tests): keeps pytest output readable."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def wsgi_server(app: Any, *, port: int = 0, tls: tuple[str, str] | None = None
                ) -> BaseWSGIServer:
    """A threaded werkzeug server bound to 127.0.0.1 (`port` 0: the OS picks one). `tls` is
    (cert_file, key_file)."""
    return make_server("127.0.0.1", port, app, threaded=True, ssl_context=tls,
                       request_handler=QuietHandler)


@contextmanager
def in_thread(server: socketserver.BaseServer) -> Iterator[None]:
    """Run `server` in a daemon thread until the block ends, then stop and close it."""
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"serve-{type(server).__name__}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve(app: Any, *, tls: tuple[str, str] | None = None, port: int = 0) -> Iterator[str]:
    """Serve the WSGI `app` in a thread; yields its base URL (http:// or, with `tls`, https://).
    `port` 0 lets the OS choose one."""
    server = wsgi_server(app, port=port, tls=tls)
    with in_thread(server):
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
