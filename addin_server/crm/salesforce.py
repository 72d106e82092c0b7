"""The Salesforce adapter of the `Crm` port, on `requests`: OAuth (web server flow with PKCE)
and the REST API (sobjects, query, composite) with its real wire format.

Requests are never retried by the HTTP client: a write that timed out may have been applied,
so the sync decides what to do (look the record up before creating it again). An expired access
token (401) is refreshed once and the call repeated once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests

from addin_server.crm.port import (
    CrmAuthError,
    CrmError,
    CrmLimitError,
    CrmNotFound,
    CrmPermanentError,
    CrmTransientError,
    ItemResult,
    KeyFields,
    Record,
    RemoteTask,
)

log = logging.getLogger(__name__)

COMPOSITE_MAX = 200  # records per sObject Collections request
PEOPLE_PER_QUERY = 200  # addresses per SOQL IN list (well under the query length limit)
SCOPES = "api refresh_token"
CONNECT_TIMEOUT = 5.0
_LIMIT_RE = re.compile(r"api-usage=(\d+)/(\d+)")


# --- OAuth -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A token endpoint answer. `refresh_token` is None on a refresh unless the connected app
    rotates refresh tokens."""

    access_token: str
    refresh_token: str | None
    instance_url: str
    identity_url: str
    issued_at: str
    signature: str

    @property
    def org_id(self) -> str:
        return self.identity_url.rstrip("/").split("/")[-2] if self.identity_url else ""

    @property
    def user_id(self) -> str:
        """The rep's Salesforce user id: the last segment of the identity URL."""
        return self.identity_url.rstrip("/").split("/")[-1] if self.identity_url else ""


def new_verifier() -> str:
    return secrets.token_urlsafe(64)[:86]


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    login_url: str, *, client_id: str, redirect_uri: str, state: str, verifier: str
) -> str:
    query = urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": state,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
        "prompt": "login consent",
    })
    return f"{login_url.rstrip('/')}/services/oauth2/authorize?{query}"


def signature_ok(client_secret: str, tokens: Tokens) -> bool:
    """Salesforce signs `id + issued_at` with the consumer secret (HMAC-SHA256, base64)."""
    if not tokens.signature:
        return False
    mac = hmac.new(client_secret.encode(), (tokens.identity_url + tokens.issued_at).encode(),
                   hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), tokens.signature)


def _token_request(
    http: requests.Session, login_url: str, data: dict[str, str], timeout: float
) -> Tokens:
    url = f"{login_url.rstrip('/')}/services/oauth2/token"
    try:
        response = http.post(url, data=data, timeout=(CONNECT_TIMEOUT, timeout),
                             headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise CrmTransientError(f"token endpoint unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise CrmTransientError(f"token endpoint answered {response.status_code}")
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error", "") if isinstance(body, dict) else ""
        described = body.get("error_description", "") if isinstance(body, dict) else ""
        if error in ("invalid_grant", "invalid_client_id", "unauthorized_client"):
            raise CrmAuthError(f"{error}: {described}".strip(": "))
        raise CrmPermanentError(f"token endpoint refused: {error or response.status_code} "
                                f"{described}".strip(), error)
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        instance_url=body.get("instance_url", "").rstrip("/"),
        identity_url=body.get("id", ""),
        issued_at=str(body.get("issued_at", "")),
        signature=body.get("signature", ""),
    )


def exchange_code(
    http: requests.Session, login_url: str, *, client_id: str, client_secret: str, code: str,
    redirect_uri: str, verifier: str, timeout: float,
) -> Tokens:
    return _token_request(http, login_url, {
        "grant_type": "authorization_code", "code": code, "client_id": client_id,
        "client_secret": client_secret, "redirect_uri": redirect_uri, "code_verifier": verifier,
    }, timeout)


def refresh_tokens(
    http: requests.Session, login_url: str, *, client_id: str, client_secret: str,
    refresh_token: str, timeout: float,
) -> Tokens:
    """A new access token. Raises CrmAuthError when the grant is revoked or expired."""
    return _token_request(http, login_url, {
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id,
        "client_secret": client_secret,
    }, timeout)


# --- the REST API ----------------------------------------------------------------------------


def soql_string(value: str) -> str:
    """A SOQL string literal (quotes and backslashes escaped)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{escaped}'"


def soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_datetime(value: str) -> datetime:
    """Salesforce datetimes look like 2026-11-24T08:00:00.000+0000."""
    return datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def key_marker(key: str) -> str:
    """How our key appears in a Description when the org has no field for it."""
    return f"[sync-key:{key}]"


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_of(status: int, body: Any) -> CrmError:
    """Classify an error answer: REST errors are a list of {message, errorCode}."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    code = str(first.get("errorCode") or first.get("statusCode") or "")
    message = str(first.get("message") or f"HTTP {status}")
    if code == "REQUEST_LIMIT_EXCEEDED":
        return CrmLimitError(message, code)
    if status == 404 or code in ("ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY"):
        return CrmNotFound(f"{code}: {message}", code)
    if status >= 500 or code in ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"):
        return CrmTransientError(f"{code or status}: {message}", ambiguous=True,
                                 code=code or f"HTTP {status}")
    return CrmPermanentError(f"{code}: {message}", code)


def _item_error(errors: Any) -> CrmError:
    return _error_of(400, errors if isinstance(errors, list) else [])


class SalesforceCrm:
    """The `Crm` port on Salesforce's REST API.

    `refresh` returns a fresh access token (or raises CrmAuthError); `on_usage(used, limit)`
    receives every Sforce-Limit-Info reading, so that the sync can slow down in time.
    """

    def __init__(
        self,
        *,
        instance_url: str,
        api_version: str,
        access_token: str,
        refresh: Callable[[], str],
        on_usage: Callable[[int, int], None] = lambda used, limit: None,
        timeout: float = 20.0,
        http: requests.Session | None = None,
    ) -> None:
        self.base = f"{instance_url.rstrip('/')}/services/data/{api_version}"
        self.instance_url = instance_url.rstrip("/")
        self.access_token = access_token
        self._refresh = refresh
        self._on_usage = on_usage
        self.timeout = timeout
        self.http = http or requests.Session()

    # -- plumbing --

    def _call(self, method: str, path: str, *, json: Any = None,
              params: dict[str, str] | None = None) -> Any:
        url = path if path.startswith("http") else (
            self.instance_url + path if path.startswith("/services/") else self.base + path)
        refreshed = False
        while True:
            try:
                response = self.http.request(
                    method, url, json=json, params=params,
                    timeout=(CONNECT_TIMEOUT, self.timeout),
                    headers={"Authorization": f"Bearer {self.access_token}",
                             "Accept": "application/json"},
                )
            except requests.ConnectTimeout as exc:
                raise CrmTransientError("Salesforce unreachable (connect timeout)") from exc
            except requests.RequestException as exc:
                # The request may have reached Salesforce and been applied.
                raise CrmTransientError(f"Salesforce request failed: {type(exc).__name__}",
                                        ambiguous=method != "GET") from exc
            self._read_usage(response)
            if response.status_code == 401 and not refreshed:
                self.access_token = self._refresh()
                refreshed = True
                continue
            if response.status_code == 401:
                raise CrmAuthError("Salesforce refused a fresh access token")
            if response.status_code == 204:
                return None
            body = _json(response)
            if response.status_code >= 400:
                error = _error_of(response.status_code, body)
                if isinstance(error, CrmTransientError):
                    error.ambiguous = method != "GET"
                raise error
            return body

    def _read_usage(self, response: requests.Response) -> None:
        match = _LIMIT_RE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self._on_usage(int(match.group(1)), int(match.group(2)))

    def query(self, soql: str, *, include_deleted: bool = False) -> list[Record]:
        """Every record of a SOQL query, following nextRecordsUrl."""
        body = self._call("GET", "/queryAll/" if include_deleted else "/query/",
                          params={"q": soql})
        records: list[Record] = list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self._call("GET", body["nextRecordsUrl"])
            records.extend(body.get("records", []))
        return records

    # -- the port --

    def key_fields(self, preferred: str) -> KeyFields:
        body = self._call("GET", "/sobjects/Task/describe/")
        for spec in body.get("fields", []):
            if spec.get("name", "").lower() != preferred.lower():
                continue
            if spec.get("externalId"):
                return KeyFields("upsert", spec["name"])
            if spec.get("filterable") and spec.get("type") in ("string", "email"):
                return KeyFields("field", spec["name"])
        return KeyFields("description")

    def find_person(self, email: str) -> str | None:
        return self.find_people([email]).get(email.lower())

    def find_people(self, emails: list[str]) -> dict[str, str]:
        """Contact ids by lower-cased address, else unconverted Lead ids: two queries for a
        whole batch (SOQL compares email addresses without regard to case)."""
        wanted = sorted({e.lower() for e in emails})
        found: dict[str, str] = {}
        for start in range(0, len(wanted), PEOPLE_PER_QUERY):
            chunk = wanted[start:start + PEOPLE_PER_QUERY]
            for sobject, extra in (("Contact", ""), ("Lead", " AND IsConverted = false")):
                missing = [e for e in chunk if e not in found]
                if not missing:
                    break
                listed = ", ".join(soql_string(e) for e in missing)
                rows = self.query(f"SELECT Id, Email FROM {sobject} WHERE Email IN ({listed})"
                                  f"{extra} ORDER BY LastModifiedDate DESC")
                for row in rows:  # newest first: keep the first of each address
                    found.setdefault(str(row.get("Email") or "").lower(), str(row["Id"]))
        return {e: found[e] for e in wanted if e in found}

    def create_tasks(self, records: list[Record]) -> list[ItemResult]:
        if len(records) == 1:
            body = self._single(lambda: self._call("POST", "/sobjects/Task/", json=records[0]))
            return [body] if isinstance(body, ItemResult) else [
                ItemResult(str(body["id"]), created=True)]
        return self._collections("POST", "/composite/sobjects", records)

    def upsert_tasks(self, field_name: str, records: list[Record]) -> list[ItemResult]:
        if len(records) == 1:
            record = dict(records[0])
            key = record.pop(field_name)
            path = f"/sobjects/Task/{field_name}/{quote(str(key), safe='')}"
            body = self._single(lambda: self._call("PATCH", path, json=record))
            if isinstance(body, ItemResult):
                return [body]
            if body is None:  # 204 from API versions before 46: an update
                return [ItemResult(None, created=False)]
            return [ItemResult(str(body["id"]), created=bool(body.get("created")))]
        return self._collections("PATCH", f"/composite/sobjects/Task/{field_name}", records)

    def update_tasks(self, records: list[Record]) -> list[ItemResult]:
        if len(records) == 1:
            record = dict(records[0])
            task_id = record.pop("Id")
            body = self._single(lambda: self._call("PATCH", f"/sobjects/Task/{task_id}",
                                                   json=record))
            return [body] if isinstance(body, ItemResult) else [ItemResult(str(task_id))]
        return self._collections("PATCH", "/composite/sobjects", records)

    def find_task_by_key(
        self, keys: KeyFields, key: str, *, owner_id: str, subject: str, since: datetime
    ) -> str | None:
        if keys.mode == "upsert":
            path = f"/sobjects/Task/{keys.name}/{quote(key, safe='')}"
            try:
                body = self._call("GET", path, params={"fields": "Id"})
            except CrmNotFound:
                return None
            return str(body["Id"])
        if keys.mode == "field":
            rows = self.query(f"SELECT Id FROM Task WHERE {keys.name} = {soql_string(key)} "
                              "LIMIT 1")
            return str(rows[0]["Id"]) if rows else None
        # SOQL cannot filter a long text area: narrow by owner, subject and time, match here.
        rows = self.query(
            f"SELECT Id, Description FROM Task WHERE OwnerId = {soql_string(owner_id)} "
            f"AND Subject = {soql_string(subject)} AND CreatedDate >= {soql_datetime(since)}"
        )
        marker = key_marker(key)
        return next((str(r["Id"]) for r in rows if marker in (r.get("Description") or "")), None)

    def changed_tasks(self, owner_id: str, since: datetime) -> list[RemoteTask]:
        rows = self.query(
            "SELECT Id, Status, IsClosed, IsDeleted, SystemModstamp FROM Task "
            f"WHERE OwnerId = {soql_string(owner_id)} AND SystemModstamp >= "
            f"{soql_datetime(since)} ORDER BY SystemModstamp ASC",
            include_deleted=True,
        )
        return [
            RemoteTask(id=str(r["Id"]), status=str(r.get("Status") or ""),
                       closed=bool(r.get("IsClosed")), deleted=bool(r.get("IsDeleted")),
                       modstamp=parse_sf_datetime(str(r["SystemModstamp"])))
            for r in rows
        ]

    # -- helpers --

    @staticmethod
    def _single(call: Callable[[], Any]) -> Any:
        """A one-record call whose refusal is that record's result (auth, limits and
        transient errors still raise: they concern every record)."""
        try:
            return call()
        except (CrmPermanentError, CrmNotFound) as exc:
            return ItemResult(None, error=exc)

    def _collections(self, method: str, path: str, records: list[Record]) -> list[ItemResult]:
        results: list[ItemResult] = []
        for start in range(0, len(records), COMPOSITE_MAX):
            chunk = [{"attributes": {"type": "Task"}, **r}
                     for r in records[start:start + COMPOSITE_MAX]]
            body = self._call(method, path, json={"allOrNone": False, "records": chunk})
            for item in body:
                if item.get("success"):
                    results.append(ItemResult(str(item["id"]), created=item.get("created")))
                else:
                    results.append(ItemResult(item.get("id"), error=_item_error(
                        item.get("errors"))))
        return results
