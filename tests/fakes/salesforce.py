"""A fake Salesforce on 127.0.0.1 speaking the real wire format, for the real adapter.

Served by werkzeug in a thread. The login host answers the OAuth endpoints
(/services/oauth2/authorize and /token, with PKCE, refresh and invalid_grant; a sandbox login
host lives under /sandbox); the instance (under /inst, so that code that ignores instance_url
fails) answers the REST API: sobjects Task create / update / upsert by an External ID / get by
it / describe, query and queryAll (the SOQL subset the sync uses), sObject Collections
(composite/sobjects), the Sforce-Limit-Info header and REQUEST_LIMIT_EXCEEDED. Error bodies are
lists of {message, errorCode, fields}; collection item errors carry statusCode, as Salesforce's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from tests.fakes.server import serve

API = "v62.0"
SF_TIME = "%Y-%m-%dT%H:%M:%S.000+0000"

TASK_FIELDS = {
    "Id", "Subject", "Status", "ActivityDate", "Priority", "Description", "TaskSubtype",
    "OwnerId", "WhoId", "WhatId", "Type", "IsClosed", "IsDeleted", "CreatedDate",
    "SystemModstamp", "CallDisposition",
}
WRITABLE = {"Subject", "Status", "ActivityDate", "Priority", "Description", "TaskSubtype",
            "OwnerId", "WhoId", "WhatId", "Type", "CallDisposition"}
CLOSED = {"Completed"}


def _errors(status: int, code: str, message: str) -> Response:
    return _json([{"message": message, "errorCode": code, "fields": []}], status)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_TOKEN = re.compile(r"\s*(?:('(?:\\.|[^'\\])*')|(>=|<=|!=|=|<|>|\(|\)|,)|([^\s=<>!(),']+))")


def _tokens(soql: str) -> list[str]:
    out, pos = [], 0
    while pos < len(soql):
        match = _TOKEN.match(soql, pos)
        if not match or match.end() == pos:
            if soql[pos:].strip() == "":
                break
            raise SoqlError("MALFORMED_QUERY", f"unexpected text at {soql[pos:pos + 20]!r}")
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return out


def _value(token: str) -> Any:
    if token.startswith("'"):
        body = token[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(
            m.group(1), m.group(1)), body)
    lower = token.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if lower == "null":
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", token):
        return datetime.strptime(token, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    raise SoqlError("MALFORMED_QUERY", f"unexpected literal {token}")


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: list[tuple[str, str, Any]]
    order: tuple[str, bool] | None
    limit: int | None


def parse_soql(soql: str) -> Query:
    """SELECT f, ... FROM Obj [WHERE c AND c ...] [ORDER BY f [ASC|DESC]] [LIMIT n]."""
    toks = _tokens(soql)
    if not toks or toks[0].upper() != "SELECT":
        raise SoqlError("MALFORMED_QUERY", "expected SELECT")
    i, fields = 1, []
    while i < len(toks) and toks[i].upper() != "FROM":
        if toks[i] != ",":
            fields.append(toks[i])
        i += 1
    if i + 1 >= len(toks):
        raise SoqlError("MALFORMED_QUERY", "expected FROM")
    sobject, i = toks[i + 1], i + 2
    where: list[tuple[str, str, Any]] = []
    order, limit = None, None
    if i < len(toks) and toks[i].upper() == "WHERE":
        i += 1
        while True:
            name, op = toks[i], toks[i + 1].upper()
            if op == "IN":
                if toks[i + 2] != "(":
                    raise SoqlError("MALFORMED_QUERY", "expected ( after IN")
                j, values = i + 3, []
                while toks[j] != ")":
                    if toks[j] != ",":
                        values.append(_value(toks[j]))
                    j += 1
                where.append((name, "IN", values))
                i = j + 1
            else:
                where.append((name, op, _value(toks[i + 2])))
                i += 3
            if i < len(toks) and toks[i].upper() == "AND":
                i += 1
                continue
            break
    if i + 2 < len(toks) and toks[i].upper() == "ORDER" and toks[i + 1].upper() == "BY":
        name, desc, i = toks[i + 2], False, i + 3
        if i < len(toks) and toks[i].upper() in ("ASC", "DESC"):
            desc, i = toks[i].upper() == "DESC", i + 1
        order = (name, desc)
    if i < len(toks) and toks[i].upper() == "LIMIT":
        limit, i = int(toks[i + 1]), i + 2
    if i != len(toks):
        raise SoqlError("MALFORMED_QUERY", f"unexpected {toks[i]!r}")
    return Query(fields, sobject, where, order, limit)


def _matches(record: dict[str, Any], name: str, op: str, value: Any) -> bool:
    have = record.get(name)
    if op == "=":
        return bool(have == value or (isinstance(have, str) and isinstance(value, str)
                                      and have.lower() == value.lower()))
    if op == "!=":
        return bool(have != value)
    if op == "IN":  # `value` is a frozenset, strings lower-cased (see Fake.query)
        return (have.lower() if isinstance(have, str) else have) in value
    if have is None:
        return False
    return bool({">": have > value, ">=": have >= value, "<": have < value,
                 "<=": have <= value}[op])


@dataclass
class FakeSalesforce:
    """State of the fake org. Tests read and change it directly."""

    clock: Callable[[], datetime]
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    org_id: str = "00D000000000001EAA"
    user_id: str = "005000000000001AAA"
    # The Task field holding the sync key: None (absent), external (upsert) or plain text.
    key_field: str | None = None
    key_field_external: bool = False
    api_used: int = 0
    api_limit: int = 15_000
    page_size: int = 2000
    rotate_refresh_tokens: bool = False
    contacts: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    # When set, a create answers only once this event is set (the record exists before).
    hold_creates: threading.Event | None = None
    # When set, an API call whose path contains it waits for `release` (a worker killed
    # inside it never hears the answer); `held` says one is waiting.
    hold_on: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _people: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test helpers --

    @property
    def instance_url(self) -> str:
        return f"{self.url}/inst"

    @property
    def identity_url(self) -> str:
        return f"{self.url}/id/{self.org_id}/{self.user_id}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}AAA"

    def add_contact(self, email: str) -> str:
        cid = self.new_id("003")
        self.contacts.append({"Id": cid, "Email": email, "LastModifiedDate": self.clock()})
        self._people.add(cid)
        return cid

    def add_lead(self, email: str, converted: bool = False) -> str:
        lid = self.new_id("00Q")
        self.leads.append({"Id": lid, "Email": email, "IsConverted": converted,
                           "LastModifiedDate": self.clock()})
        self._people.add(lid)
        return lid

    def live_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if not t["IsDeleted"]]

    def close_task(self, task_id: str) -> None:
        self._write(self.tasks[task_id], {"Status": "Completed"})

    def delete_task(self, task_id: str) -> None:
        task = self.tasks[task_id]
        task["IsDeleted"] = True
        task["SystemModstamp"] = self.clock()

    def revoke(self) -> None:
        """The rep (or an admin) revoked the app: every token dies."""
        self.refresh_tokens.clear()
        self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def calls(self, method: str, fragment: str) -> int:
        return sum(1 for m, p in self.log if m == method and fragment in p)

    # -- WSGI --

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.log.append((request.method, request.full_path))
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/sandbox/services/oauth2/"):
            path = path[len("/sandbox"):]
        if path == "/services/oauth2/authorize":
            return self.authorize(request)
        if path == "/services/oauth2/token" and request.method == "POST":
            return self.token(request)
        prefix = f"/inst/services/data/{API}/"
        if not path.startswith(prefix):
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.access_tokens:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        with self._lock:
            self.api_used += 1
            over = self.api_used > self.api_limit
        if over:
            # As Salesforce documents it: a 403 with the error code, and no Sforce-Limit-Info
            # header (which it promises on successful calls only).
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if self.hold_on and self.hold_on in request.full_path:
            self.held.set()
            self.release.wait(30)
        try:
            response = self.api(request, path[len(prefix):].rstrip("/"))
        except SoqlError as exc:
            response = _errors(400, exc.code, str(exc))
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
        return response

    # -- OAuth --

    def authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return Response("bad client", status=400)
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return Response("PKCE required", status=400)
        code = secrets.token_urlsafe(12)
        self.codes[code] = {"challenge": args["code_challenge"],
                            "redirect_uri": args.get("redirect_uri", "")}
        target = f"{args.get('redirect_uri')}?{urlencode({'code': code, 'state': args['state']})}"
        return Response("", status=302, headers={"Location": target})

    def _issue(self, *, with_refresh: bool) -> dict[str, Any]:
        access = "00D!" + secrets.token_urlsafe(24)
        self.access_tokens.add(access)
        issued_at = str(int(self.clock().timestamp() * 1000))
        mac = hmac.new(self.client_secret.encode(), (self.identity_url + issued_at).encode(),
                       hashlib.sha256).digest()
        body = {"access_token": access, "instance_url": self.instance_url,
                "id": self.identity_url, "token_type": "Bearer", "issued_at": issued_at,
                "signature": base64.b64encode(mac).decode(), "scope": "api refresh_token"}
        if with_refresh:
            refresh = "5Aep" + secrets.token_urlsafe(32)
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id or form.get(
                "client_secret") != self.client_secret:
            return _json({"error": "invalid_client_id",
                          "error_description": "client identifier invalid"}, 400)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            pending = self.codes.pop(form.get("code", ""), None)
            if pending is None or pending["redirect_uri"] != form.get("redirect_uri"):
                return _json({"error": "invalid_grant",
                              "error_description": "invalid authorization code"}, 400)
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != pending["challenge"]:
                return _json({"error": "invalid_grant",
                              "error_description": "invalid code verifier"}, 400)
            return _json(self._issue(with_refresh=True))
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self.refresh_tokens:
                return _json({"error": "invalid_grant",
                              "error_description": "expired access/refresh token"}, 400)
            if self.rotate_refresh_tokens:
                self.refresh_tokens.discard(refresh)
            return _json(self._issue(with_refresh=self.rotate_refresh_tokens))
        return _json({"error": "unsupported_grant_type",
                      "error_description": "grant type not supported"}, 400)

    # -- REST --

    def api(self, request: Request, path: str) -> Response:
        method = request.method
        parts = path.split("/")
        if path in ("query", "queryAll") and method == "GET":
            return self.query(request.args.get("q", ""), include_deleted=path == "queryAll")
        if parts[0] in ("query", "queryAll") and len(parts) == 2:
            return self.more(parts[1])
        if path == "sobjects/Task/describe":
            return _json(self.describe())
        if path == "sobjects/Task" and method == "POST":
            return self.create_one(request.get_json())
        if parts[:2] == ["sobjects", "Task"] and len(parts) == 3 and method == "PATCH":
            return self.update_one(parts[2], request.get_json())
        if parts[:2] == ["sobjects", "Task"] and len(parts) == 4:
            if parts[2] != self.key_field or not self.key_field_external:
                return _errors(404, "NOT_FOUND",
                               "Provided external ID field does not exist or is not accessible")
            if method == "GET":
                found = self._by_key(parts[3])
                if found is None:
                    return _errors(404, "NOT_FOUND", "The requested resource does not exist")
                return _json(self._public(found))
            if method == "PATCH":
                return self.upsert_one(parts[3], request.get_json())
        if path == "composite/sobjects" and method in ("POST", "PATCH"):
            return self.collection(request.get_json(), create=method == "POST")
        if parts[:3] == ["composite", "sobjects", "Task"] and len(parts) == 4 \
                and method == "PATCH":
            if parts[3] != self.key_field or not self.key_field_external:
                return _errors(404, "NOT_FOUND",
                               "Provided external ID field does not exist or is not accessible")
            return self.collection(request.get_json(), create=False, upsert=True)
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def describe(self) -> dict[str, Any]:
        fields = [{"name": n, "type": "string" if n not in ("IsClosed", "IsDeleted") else
                   "boolean", "externalId": False, "unique": False,
                   "filterable": n != "Description", "createable": n in WRITABLE,
                   "updateable": n in WRITABLE - {"TaskSubtype"}} for n in sorted(TASK_FIELDS)]
        if self.key_field:
            fields.append({"name": self.key_field, "type": "string", "custom": True,
                           "externalId": self.key_field_external,
                           "unique": self.key_field_external, "filterable": True,
                           "createable": True, "updateable": True})
        return {"name": "Task", "fields": fields}

    # records

    def _public(self, task: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": "Task", "url": f"/services/data/{API}/sobjects/Task/{task['Id']}"}}
        for key, value in task.items():
            out[key] = value.strftime(SF_TIME) if isinstance(value, datetime) else value
        return out

    def _by_key(self, value: str) -> dict[str, Any] | None:
        return next((t for t in self.tasks.values() if self.key_field
                     and t.get(self.key_field) == value and not t["IsDeleted"]), None)

    def _check(self, body: Any, *, create: bool) -> tuple[str, str] | None:
        if not isinstance(body, dict):
            return ("JSON_PARSER_ERROR", "expected an object")
        allowed = WRITABLE | ({self.key_field} if self.key_field else set())
        for name in body:
            if name == "attributes" or (name == "Id" and not create):
                continue
            if name not in allowed:
                return ("INVALID_FIELD", f"No such column '{name}' on sobject of type Task")
            if name == "TaskSubtype" and not create:
                return ("INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: TaskSubtype. Please check the security "
                        "settings of this field and verify that it is read/write for your "
                        "profile or permission set.")
        who = body.get("WhoId")
        if who and who not in self._people:
            return ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if create and self.key_field and self.key_field_external and body.get(self.key_field) \
                and self._by_key(body[self.key_field]):
            return ("DUPLICATE_VALUE", "duplicate value found: " + self.key_field)
        return None

    def _write(self, task: dict[str, Any], body: dict[str, Any]) -> None:
        for name, value in body.items():
            if name not in ("attributes", "Id"):
                task[name] = value
        task["IsClosed"] = task.get("Status") in CLOSED
        task["SystemModstamp"] = self.clock()

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            task: dict[str, Any] = {"Id": self.new_id("00T"), "Status": "Not Started",
                                    "Priority": "Normal", "OwnerId": self.user_id,
                                    "IsDeleted": False, "CreatedDate": now}
            self._write(task, body)
            self.tasks[task["Id"]] = task
        if self.hold_creates is not None:
            # The record exists; the answer is late (the client's timeout fires first).
            self.hold_creates.wait(10)
        return task

    def create_one(self, body: Any) -> Response:
        problem = self._check(body, create=True)
        if problem:
            return _errors(400, *problem)
        task = self._create(body)
        return _json({"id": task["Id"], "success": True, "errors": []}, 201)

    def update_one(self, task_id: str, body: Any) -> Response:
        task = self.tasks.get(task_id)
        if task is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        if task["IsDeleted"]:
            return _errors(404, "ENTITY_IS_DELETED", "entity is deleted")
        problem = self._check(body, create=False)
        if problem:
            return _errors(400, *problem)
        self._write(task, body)
        return Response(status=204)

    def upsert_one(self, value: str, body: Any) -> Response:
        if isinstance(body, dict) and self.key_field in body:
            return _errors(400, "INVALID_FIELD", "the external ID is given in the URL")
        existing = self._by_key(value)
        problem = self._check(body, create=existing is None)
        if problem:
            return _errors(400, *problem)
        if existing is not None:
            self._write(existing, body)
            return _json({"id": existing["Id"], "success": True, "errors": [],
                          "created": False}, 200)
        assert self.key_field is not None
        task = self._create({**body, self.key_field: value})
        return _json({"id": task["Id"], "success": True, "errors": [], "created": True}, 201)

    def collection(self, body: Any, *, create: bool, upsert: bool = False) -> Response:
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return _errors(400, "JSON_PARSER_ERROR", "records is required")
        if len(records) > 200:
            return _errors(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                           "than 200 records into this call")
        results = []
        for record in records:
            if not isinstance(record, dict) or record.get("attributes", {}).get("type") != "Task":
                results.append(self._item_error("INVALID_TYPE", "attributes.type is required"))
                continue
            body_of = {k: v for k, v in record.items() if k != "attributes"}
            if upsert:
                assert self.key_field is not None
                value = body_of.pop(self.key_field, None)
                existing = self._by_key(value) if value else None
                problem = self._check(body_of, create=existing is None)
                if problem:
                    results.append(self._item_error(*problem))
                elif existing is not None:
                    self._write(existing, body_of)
                    results.append({"id": existing["Id"], "success": True, "errors": [],
                                    "created": False})
                else:
                    task = self._create({**body_of, self.key_field: value})
                    results.append({"id": task["Id"], "success": True, "errors": [],
                                    "created": True})
            elif create:
                problem = self._check(body_of, create=True)
                if problem:
                    results.append(self._item_error(*problem))
                else:
                    results.append({"id": self._create(body_of)["Id"], "success": True,
                                    "errors": []})
            else:
                task = self.tasks.get(body_of.get("Id", ""))
                problem = self._check(body_of, create=False)
                if task is None or task["IsDeleted"]:
                    results.append(self._item_error("ENTITY_IS_DELETED", "entity is deleted"))
                elif problem:
                    results.append(self._item_error(*problem))
                else:
                    self._write(task, body_of)
                    results.append({"id": task["Id"], "success": True, "errors": []})
        return _json(results)

    @staticmethod
    def _item_error(code: str, message: str) -> dict[str, Any]:
        return {"success": False, "errors": [{"statusCode": code, "message": message,
                                              "fields": []}]}

    # query

    def query(self, soql: str, *, include_deleted: bool) -> Response:
        q = parse_soql(soql)
        source = {"Task": list(self.tasks.values()), "Contact": self.contacts,
                  "Lead": self.leads}.get(q.sobject)
        if source is None:
            raise SoqlError("INVALID_TYPE", f"sObject type '{q.sobject}' is not supported.")
        for name, _op, _value in q.where:
            if name == "Description":
                raise SoqlError("INVALID_FIELD", "field 'Description' can not be filtered in a "
                                "query call")
        where = [(n, op, frozenset(x.lower() if isinstance(x, str) else x for x in v)
                  if op == "IN" else v) for n, op, v in q.where]
        rows = [r for r in source if (include_deleted or not r.get("IsDeleted"))
                and all(_matches(r, n, op, v) for n, op, v in where)]
        if q.order:
            name, desc = q.order
            rows.sort(key=lambda r: r.get(name) or datetime.min.replace(tzinfo=UTC),
                      reverse=desc)
        if q.limit is not None:
            rows = rows[: q.limit]
        selected = [self._select(q.sobject, r, q.fields) for r in rows]
        return self._page(selected, 0)

    def _select(self, sobject: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {
            "type": sobject, "url": f"/services/data/{API}/sobjects/{sobject}/{row['Id']}"}}
        for name in fields:
            value = row.get(name)
            out[name] = value.strftime(SF_TIME) if isinstance(value, datetime) else value
        return out

    def _page(self, rows: list[dict[str, Any]], start: int) -> Response:
        chunk = rows[start:start + self.page_size]
        body: dict[str, Any] = {"totalSize": len(rows), "done": start + len(chunk) >= len(rows),
                                "records": chunk}
        if not body["done"]:
            cursor = f"01g{secrets.token_hex(6)}-{start + len(chunk)}"
            self._pages[cursor.split("-")[0]] = rows
            body["nextRecordsUrl"] = f"/services/data/{API}/query/{cursor}"
        return _json(body)

    def more(self, cursor: str) -> Response:
        key, _, start = cursor.partition("-")
        rows = self._pages.get(key)
        if rows is None:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, int(start))


class FakeServer:
    """Serve a FakeSalesforce on 127.0.0.1 (a random port) in a thread."""

    def __init__(self, fake: FakeSalesforce) -> None:
        self.fake = fake
        self._running = ExitStack()

    def __enter__(self) -> FakeSalesforce:
        self.fake.url = self._running.enter_context(serve(self.fake))
        return self.fake

    def __exit__(self, *exc: object) -> None:
        if self.fake.hold_creates is not None:  # a create held by the test must not hang
            self.fake.hold_creates.set()
        self.fake.release.set()
        self._running.close()
