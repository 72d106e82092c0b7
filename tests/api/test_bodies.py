"""Request bodies are checked against the pydantic models the OpenAPI document is generated
from: what the document refuses, the server refuses, with the API's field paths and wording."""

from __future__ import annotations

from typing import Any

from flask import Flask

from addin_server.api.openapi import document
from addin_server.api.openapi.requests import CampaignIn, TemplateIn
from tests.api.test_campaigns import create
from tests.conftest import Actor


def _errors(response: Any) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in response.get_json()["errors"]]


def test_document_schemas_are_the_models(app: Flask) -> None:
    schemas = document("https://x.test")["components"]["schemas"]
    assert set(CampaignIn.model_json_schema()["properties"]) == set(
        schemas["CampaignIn"]["properties"])
    assert schemas["TemplateIn"]["required"] == ["name", "body_html"]
    assert schemas["StepIn"]["properties"]["day"] == {"type": "integer", "minimum": 1,
                                                      "maximum": 365}
    assert TemplateIn.model_config["strict"] is True


def test_preview_person_email_must_be_a_string(rep: Actor) -> None:
    # Before the models, a number here was ignored and a sample person rendered (200).
    response = rep.post("/api/v1/preview", json={"body_html": "<p>x</p>", "person_email": 5})
    assert response.status_code == 422
    assert _errors(response) == [("person_email", "must be a string")]


def test_nested_paths_and_wording_are_the_apis(rep: Actor) -> None:
    response = create(rep, steps=[{"day": 1, "type": "call"},
                                  {"day": "2", "type": "call", "reply_to_previous": 1}])
    assert response.status_code == 422
    assert _errors(response) == [("steps[1].day", "must be an integer"),
                                 ("steps[1].reply_to_previous", "must be true or false")]


def test_mailbox_limits_out_of_range_name_both_bounds(rep: Actor) -> None:
    response = rep.patch("/api/v1/mailboxes/1/limits", json={"daily_cap": 0})
    assert response.status_code == 422
    assert _errors(response) == [("daily_cap", "must be between 1 and 10000")]
