"""The `Crm` port: what the sync needs from a CRM, and the errors it classifies.

The sync (push.py, pull.py) talks to this Protocol only; `salesforce.py` is the real adapter.
Records are plain dicts of the CRM's own field names, built by the pure functions in records.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Record = dict[str, Any]


class CrmError(Exception):
    """Base of the classified CRM errors. `code` is the CRM's own error code when it gave one
    (Salesforce's errorCode: REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW, ...), for the logs
    and the rep's status page."""

    def __init__(self, message: str = "", code: str = "") -> None:
        super().__init__(message)
        self.code = code


class CrmAuthError(CrmError):
    """The grant is gone (revoked, expired refresh token): the rep must reconnect."""


class CrmTransientError(CrmError):
    """Worth retrying later. `ambiguous` means the request may have taken effect (a timeout or
    a 5xx after the body was sent): look the record up before creating it again."""

    def __init__(self, message: str, *, ambiguous: bool = False, code: str = "") -> None:
        super().__init__(message, code)
        self.ambiguous = ambiguous


class CrmLimitError(CrmError):
    """The org's API allocation is used up (REQUEST_LIMIT_EXCEEDED)."""


class CrmPermanentError(CrmError):
    """The CRM refused the request for good (bad field, no access): retrying will not help."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message, code)


class CrmNotFound(CrmError):
    """The record does not exist (or was deleted) on the CRM side."""


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one record in a batch: its id, or the error that refused it."""

    id: str | None
    error: CrmError | None = None
    created: bool | None = None


@dataclass(frozen=True)
class RemoteTask:
    """A Task as a pull sees it."""

    id: str
    status: str
    closed: bool
    deleted: bool
    modstamp: datetime


@dataclass(frozen=True)
class KeyFields:
    """How records are found again after an ambiguous create.

    mode "upsert": `name` is an External ID field (upsert by it); "field": `name` is a plain
    filterable text field (query by it); "description": no such field, the key is written into
    the Description (which SOQL cannot filter), so candidates are queried by owner, subject and
    creation time and matched on the client.
    """

    mode: str
    name: str = ""


class Crm(Protocol):
    """The CRM operations the sync performs. Every call may raise a CrmError subclass."""

    def key_fields(self, preferred: str) -> KeyFields:
        """Describe Task and say how our key can be stored (`preferred` names the field)."""
        ...

    def find_people(self, emails: list[str]) -> dict[str, str]:
        """For each address (lower case) the id of its Contact, else of its unconverted Lead;
        addresses with neither are left out."""
        ...

    def create_tasks(self, records: list[Record]) -> list[ItemResult]:
        """Create Tasks (one request; a batch through the composite API when many)."""
        ...

    def upsert_tasks(self, field_name: str, records: list[Record]) -> list[ItemResult]:
        """Create-or-update Tasks by an External ID field: safe to repeat."""
        ...

    def update_tasks(self, records: list[Record]) -> list[ItemResult]:
        """Update Tasks; each record carries its `Id`."""
        ...

    def find_task_by_key(
        self, keys: KeyFields, key: str, *, owner_id: str, subject: str, since: datetime
    ) -> str | None:
        """The id of the Task that carries our key, if an earlier attempt created it."""
        ...

    def changed_tasks(self, owner_id: str, since: datetime) -> list[RemoteTask]:
        """Tasks of this owner changed (or deleted) at or after `since`, oldest first."""
        ...
