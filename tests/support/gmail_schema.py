"""Offline validation of what the Gmail add-on emits, against Google's own definitions.

Cards: the `GoogleAppsCardV1*` schemas of the Chat API discovery document that
google-api-python-client ships (`$ref: Name` -> `#/definitions/Name`, objects closed with
`additionalProperties: false` so that a misspelled field fails). The envelopes around cards
(RenderActions, navigations, Gmail host actions) are not in any discovery document: they are
checked by the small schema below, written from the add-ons reference.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient
import jsonschema

DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


def _convert(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _convert(v) for k, v in node.items()
               if k not in ("description", "enumDescriptions", "deprecated")}
        if "$ref" in out:
            return {"$ref": "#/definitions/" + out["$ref"]}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_convert(v) for v in node]
    return node


@cache
def chat_definitions() -> dict[str, Any]:
    doc = json.loads((DISCOVERY / "chat.v1.json").read_text())
    # A schema's own "id" is its name; a *property* named "id" (TimeZone.id) must stay.
    return {name: _convert({k: v for k, v in schema.items() if k != "id"})
            for name, schema in doc["schemas"].items()}


_ENVELOPES: dict[str, Any] = {
    "Card": {"$ref": "#/definitions/GoogleAppsCardV1Card"},
    "Notification": {"type": "object", "required": ["text"], "additionalProperties": False,
                     "properties": {"text": {"type": "string", "minLength": 1}}},
    "Navigation": {
        "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
        "properties": {"pushCard": {"$ref": "#/definitions/Card"},
                       "updateCard": {"$ref": "#/definitions/Card"},
                       "pop": {"const": True}, "popToRoot": {"const": True},
                       "popToCard": {"type": "string"}},
    },
    "Action": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {
            "navigations": {"type": "array", "minItems": 1,
                            "items": {"$ref": "#/definitions/Navigation"}},
            "notification": {"$ref": "#/definitions/Notification"},
            "link": {"type": "object", "required": ["url"], "additionalProperties": False,
                     "properties": {"url": {"type": "string", "pattern": "^https://"},
                                    "openAs": {"enum": ["FULL_SIZE", "OVERLAY"]},
                                    "onClose": {"enum": ["NOTHING", "RELOAD"]}}},
        },
    },
    "Recipients": {"type": "array", "items": {
        "type": "object", "required": ["email"], "additionalProperties": False,
        "properties": {"email": {"type": "string", "minLength": 3}}}},
    "GmailAction": {
        "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
        "properties": {
            "openCreatedDraftActionMarkup": {
                "type": "object", "required": ["draftId"], "additionalProperties": False,
                "properties": {"draftId": {"type": "string", "minLength": 1},
                               "draftThreadId": {"type": "string", "pattern": "^[0-9a-f]+$"},
                               "draftStorageId": {"type": "string"}}},
            "updateDraftActionMarkup": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {
                    "updateBody": {
                        "type": "object", "required": ["insertContents", "type"],
                        "additionalProperties": False,
                        "properties": {
                            "insertContents": {"type": "array", "minItems": 1, "items": {
                                "type": "object", "required": ["content", "contentType"],
                                "additionalProperties": False,
                                "properties": {"content": {"type": "string"},
                                               "contentType": {"enum": [
                                                   "TEXT", "MUTABLE_HTML", "IMMUTABLE_HTML"]}}}},
                            "type": {"enum": ["IN_PLACE_INSERT", "INSERT_AT_START",
                                              "INSERT_AT_END", "REPLACE"]}}},
                    "updateSubject": {"type": "object", "required": ["subject"],
                                      "additionalProperties": False,
                                      "properties": {"subject": {"type": "string"}}},
                    "updateToRecipients": {"type": "object", "additionalProperties": False,
                                           "properties": {"toRecipients": {
                                               "$ref": "#/definitions/Recipients"}}},
                }},
        },
    },
    "RenderActions": {
        "type": "object", "minProperties": 1, "additionalProperties": False,
        "properties": {"action": {"$ref": "#/definitions/Action"},
                       "hostAppAction": {
                           "type": "object", "required": ["gmailAction"],
                           "additionalProperties": False,
                           "properties": {"gmailAction": {"$ref": "#/definitions/GmailAction"}}},
                       "stateChanged": {"type": "boolean"}},
    },
    "TriggerResponse": {
        "type": "object", "required": ["action"], "additionalProperties": False,
        "properties": {"action": {
            "type": "object", "required": ["navigations"], "additionalProperties": False,
            "properties": {"navigations": {"type": "array", "minItems": 1, "items": {
                "$ref": "#/definitions/Navigation"}}}}},
    },
    "CallbackResponse": {
        "type": "object", "required": ["renderActions"], "additionalProperties": False,
        "properties": {"renderActions": {"$ref": "#/definitions/RenderActions"}},
    },
    "ScopeRequest": {
        "type": "object", "required": ["requesting_google_scopes"], "additionalProperties": False,
        "properties": {"requesting_google_scopes": {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {"scopes": {"type": "array", "minItems": 1,
                                      "items": {"type": "string", "pattern": "^https://"}},
                           "all_scopes": {"const": True}}}},
    },
}


@cache
def _validator(root: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": f"#/definitions/{root}",
              "definitions": {**chat_definitions(), **_ENVELOPES}}
    return jsonschema.Draft7Validator(schema)


def _walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def check_cards(response: Any, known_functions: set[str] | None = None) -> list[dict[str, Any]]:
    """Rules the schemas cannot say: one kind per widget, at most 100 widgets, string
    parameters (the schema says so too), actions pointing at our own endpoints. Returns the
    cards found."""
    cards = []
    for path, node in _walk(response):
        for key in ("pushCard", "updateCard"):
            if key in node:
                cards.append(node[key])
        if "function" in node and known_functions is not None:
            assert node["function"] in known_functions, f"{path}: unknown {node['function']}"
    for c in cards:
        total = 0
        for section in c.get("sections", []):
            assert section.get("widgets"), "a section without widgets"
            for w in section["widgets"]:
                kinds = set(w) - {"horizontalAlignment"}
                assert len(kinds) == 1, f"a widget must have exactly one kind: {sorted(kinds)}"
                total += 1
        assert total <= 100, f"{total} widgets: Google drops sections past 100"
        assert "fixedFooter" not in c or c["fixedFooter"].get("primaryButton"), "empty footer"
    return cards


def validate(response: Any, kind: str, known_functions: set[str] | None = None) -> list[Any]:
    """kind: TriggerResponse | CallbackResponse | ScopeRequest | Card. Raises on any problem."""
    errors = sorted(_validator(kind).iter_errors(response), key=lambda e: list(e.path))
    if errors:
        raise AssertionError("; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:5]))
    if kind == "Card":
        return check_cards({"pushCard": response}, known_functions)
    return check_cards(response, known_functions)


def validate_event(event: dict[str, Any]) -> None:
    """Our event fixtures against the event schema Google publishes (CommonEventObject)."""
    schema = {"$ref": "#/definitions/CommonEventObject", "definitions": chat_definitions()}
    jsonschema.Draft7Validator(schema).validate(event["commonEventObject"])
