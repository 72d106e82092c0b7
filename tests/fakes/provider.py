"""A fault-injecting mail provider on 127.0.0.1, and the Mailbox adapter that talks to it.

The fake is a small WSGI app (drafts, send a draft, Sent-items lookup by our send-id header,
headers of a message) that counts every message it accepts, by send id. It can fail calls:
scripted (`POST /_script`: the next N calls of an operation answer a status, optionally after
accepting the message: the ambiguous case), at random (`POST /_faults`: a share of calls answer
429 or 5xx, some after acceptance), and it can hold one send open (`/_hold`) so that a test
can kill the worker in the middle of that call.

Workers in other processes reach it over HTTP: MAILBOX_FACTORY=tests.fakes.provider:open_fake
with FAKE_PROVIDER_URL (or settings.extra["fake_provider_url"] in-process).
Run alone: `python -m tests.fakes.provider --port 0` prints its URL.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.wrappers import Request, Response

from addin_server.mailboxes.mime import build_mime
from addin_server.mailboxes.port import (
    AuthError,
    DraftRef,
    MailboxPaused,
    OutgoingMessage,
    PermanentError,
    SentRef,
    TransientError,
)
from tests.fakes.server import serve, wsgi_server

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from addin_server.models import Mailbox as MailboxRow
    from addin_server.runtime import Runtime


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json",
                    headers=headers)


class FakeProvider:
    """The provider's state. Thread-safe: the server is threaded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.drafts: dict[str, dict[str, Any]] = {}
        self.sent: dict[str, dict[str, Any]] = {}
        self.accepted: Counter[str] = Counter()
        self.scripts: dict[str, list[dict[str, Any]]] = {}
        self.faults: dict[str, Any] = {}
        self.failures: Counter[str] = Counter()  # per send id, for the cap
        self.rand = random.Random(7)
        self.calls = 0
        self.injected = 0
        self.hold_send_id: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_pid: str | None = None

    # --- the provider's API -------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.route(request)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith("/_"):
            return self.control(request)
        with self.lock:
            self.calls += 1
        if method == "POST" and path == "/drafts":
            return self.create_draft(request.get_json())
        if method == "POST" and path.startswith("/drafts/") and path.endswith("/send"):
            return self.send_draft(path.split("/")[2], request.headers.get("X-Worker-Pid", ""))
        if method == "GET" and path == "/sent":
            return self.find_sent(request.args["send_id"])
        if method == "GET" and path.startswith("/messages/"):
            return self.headers(path.split("/")[2], request.args.getlist("name"))
        return _json({"error": "not found"}, 404)

    def _fault(self, op: str, send_id: str) -> dict[str, Any] | None:
        with self.lock:
            script = self.scripts.get(op)
            if script:
                step = script[0]
                step["count"] -= 1
                if step["count"] <= 0:
                    script.pop(0)
                self.injected += 1
                return step
            rate = self.faults.get("rate", 0.0)
            if rate and self.failures[send_id] < self.faults.get("max_per_send", 4) \
                    and self.rand.random() < rate:
                self.failures[send_id] += 1
                self.injected += 1
                after = op == "send" and self.rand.random() < self.faults.get("after_share", 0.5)
                status = self.rand.choice([429, 500, 502, 503])
                return {"status": status, "accept": after, "retry_after": 0.05}
        return None

    @staticmethod
    def _error(step: dict[str, Any]) -> Response:
        headers = {}
        if step.get("retry_after") is not None:
            headers["Retry-After"] = str(step["retry_after"])
        body = {"error": step.get("message", "injected"), **step.get("body", {})}
        return _json(body, step["status"], headers)

    def create_draft(self, data: dict[str, Any]) -> Response:
        fault = self._fault("create_draft", data["send_id"])
        if fault is not None:
            return self._error(fault)
        raw = base64.urlsafe_b64decode(data["raw"])
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        draft_id = "d" + uuid.uuid4().hex[:12]
        with self.lock:
            self.drafts[draft_id] = {
                "send_id": data["send_id"], "raw": raw,
                "rfc_message_id": str(parsed["Message-ID"]),
                "thread_id": data.get("thread_id") or "t" + uuid.uuid4().hex[:12],
            }
        return _json({"id": draft_id})

    def send_draft(self, draft_id: str, worker_pid: str) -> Response:
        with self.lock:
            draft = self.drafts.get(draft_id)
        if draft is None:
            return _json({"error": "draft not found"}, 404)
        send_id = draft["send_id"]
        if self.hold_send_id == send_id:
            self.held_pid = worker_pid
            self.held.set()
            self.release.wait(60)
        fault = self._fault("send", send_id)
        if fault is not None and not fault.get("accept"):
            return self._error(fault)
        with self.lock:
            if self.drafts.pop(draft_id, None) is None:
                return _json({"error": "draft not found"}, 404)  # consumed meanwhile
            message_id = "m" + uuid.uuid4().hex[:12]
            # The provider sets its own Message-ID, as Gmail may: clients must read it back.
            rfc_id = f"<{message_id}@fake-provider.test>"
            self.sent[message_id] = {**draft, "rfc_message_id": rfc_id,
                                     "sent_at": datetime.now(UTC).isoformat()}
            self.accepted[send_id] += 1
        if fault is not None:
            return self._error(fault)  # accepted, but the client hears an error
        return _json({"id": message_id, "threadId": draft["thread_id"]})

    def find_sent(self, send_id: str) -> Response:
        fault = self._fault("find_sent", send_id)
        if fault is not None:
            return self._error(fault)
        with self.lock:
            for message_id, m in self.sent.items():
                if m["send_id"] == send_id:
                    return _json({"id": message_id, "threadId": m["thread_id"],
                                  "rfc_message_id": m["rfc_message_id"],
                                  "sent_at": m["sent_at"]})
        return _json({"error": "no such message"}, 404)

    def headers(self, message_id: str, names: list[str]) -> Response:
        with self.lock:
            m = self.sent.get(message_id)
        if m is None:
            return _json({"error": "no such message"}, 404)
        parsed = email.message_from_bytes(m["raw"], policy=email.policy.default)
        out = {n: str(parsed[n]) for n in names if parsed[n] is not None}
        if "Message-ID" in names:
            out["Message-ID"] = m["rfc_message_id"]
        return _json({"headers": out})

    # --- test control ---------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path
        if path == "/_stats":
            with self.lock:
                return _json({"accepted": dict(self.accepted), "calls": self.calls,
                              "injected": self.injected, "held_pid": self.held_pid,
                              "held": self.held.is_set()})
        data = request.get_json(silent=True) or {}
        with self.lock:
            if path == "/_script":
                self.scripts.setdefault(data["op"], []).append(dict(data))
            elif path == "/_faults":
                self.faults = dict(data)
            elif path == "/_hold":
                self.hold_send_id = str(data["send_id"])
            elif path == "/_release":
                self.hold_send_id = None
                self.release.set()
            elif path == "/_reset":
                self.__init__()  # type: ignore[misc]
        return _json({"ok": True})


class FakeProviderServer:
    """The fake served by werkzeug in a thread, for one test."""

    def __init__(self) -> None:
        self.provider = FakeProvider()
        self.url = ""
        self._running = ExitStack()

    def __enter__(self) -> FakeProviderServer:
        self.url = self._running.enter_context(serve(self.provider))
        return self

    def __exit__(self, *exc: object) -> None:
        self.provider.release.set()  # a held send must not keep its request thread waiting
        self._running.close()


# --- the adapter ----------------------------------------------------------------------------


class FakeProviderMailbox:
    """A Mailbox (addin_server/mailboxes/base.py) over the fake's HTTP API, classifying errors
    the way the real adapters must: 429 / 5xx transient (5xx or a timeout on the send call may
    have sent), 400 permanent, 401 auth, 403 with paused_until paused."""

    def __init__(self, base_url: str, address: str, http: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.address = address
        self.http = http or _session()

    def _call(self, method: str, path: str, *, sending: bool = False, **kw: Any) -> Any:
        try:
            r = self.http.request(method, self.base_url + path, timeout=10,
                                  headers={"X-Worker-Pid": str(os.getpid())}, **kw)
        except requests.RequestException as exc:
            raise TransientError(f"network error: {exc}", may_have_sent=sending) from exc
        if r.status_code < 300:
            return r.json()
        retry_after = float(r.headers["Retry-After"]) if "Retry-After" in r.headers else None
        message = f"{method} {path}: {r.status_code}"
        if r.status_code == 429:
            raise TransientError(message, retry_after=retry_after)
        if r.status_code >= 500:
            raise TransientError(message, retry_after=retry_after, may_have_sent=sending)
        if r.status_code == 401:
            raise AuthError(message)
        body = r.json()
        if r.status_code == 403 and body.get("paused_until"):
            # The provider's text, as the real adapters keep it (e.g. Gmail's "(Mail sending)").
            raise MailboxPaused(f"{message} {body.get('error', '')}".strip(),
                                until=datetime.fromisoformat(body["paused_until"]))
        if r.status_code == 404 and sending:
            # A consumed draft: it went out already, or was deleted. Look before resending.
            raise TransientError(message + " (draft gone)", may_have_sent=True)
        raise PermanentError(message + f" {body.get('error', '')}")

    def create_draft(self, message: OutgoingMessage) -> DraftRef:
        raw = base64.urlsafe_b64encode(build_mime(message).as_bytes()).decode()
        data = self._call("POST", "/drafts", json={"send_id": message.send_id, "raw": raw,
                                                   "thread_id": message.thread_id})
        return DraftRef(draft_id=data["id"])

    def send_draft(self, draft: DraftRef) -> SentRef:
        data = self._call("POST", f"/drafts/{draft.draft_id}/send", sending=True)
        return SentRef(message_id=data["id"], thread_id=data.get("threadId"), rfc_message_id=None)

    def find_sent(self, send_id: str, *, since: datetime) -> SentRef | None:
        try:
            data = self._call("GET", "/sent", params={"send_id": send_id})
        except PermanentError:
            return None
        sent_at = datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None
        return SentRef(message_id=data["id"], thread_id=data.get("threadId"),
                       rfc_message_id=data.get("rfc_message_id"), sent_at=sent_at)

    def get_headers(self, message_id: str, names: list[str]) -> dict[str, str]:
        data = self._call("GET", f"/messages/{message_id}", params={"name": names})
        return dict(data["headers"])


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


_sessions: dict[int, requests.Session] = {}


def open_fake(runtime: Runtime, session: Session, row: MailboxRow) -> FakeProviderMailbox:
    """MAILBOX_FACTORY entry: every mailbox talks to the fake (one HTTP session per process)."""
    url = runtime.settings.extra.get("fake_provider_url") or os.environ["FAKE_PROVIDER_URL"]
    http = _sessions.get(os.getpid())
    if http is None:  # not setdefault: that would build a Session on every call
        http = _sessions[os.getpid()] = _session()
    return FakeProviderMailbox(url, row.address, http)


def main() -> None:
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = wsgi_server(FakeProvider(), port=args.port)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
