"""Campaigns through the REST API: create, validate, read, change."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Actor, make_actor


def email_step(day: int, option: str, **kw: Any) -> dict[str, Any]:
    step = {"day": day, "type": "email", "send_option": option, "subject": "Hi {{first_name}}",
            "body_html": "<p>Hello {{first_name | default: \"there\"}}</p>"}
    step.update(kw)
    return step


def six_steps() -> list[dict[str, Any]]:
    return [
        email_step(1, "fixed_time", send_time="09:30"),
        email_step(3, "same_time_as_previous", reply_to_previous=True, subject=""),
        {"day": 4, "type": "call", "instructions": "Call about the intro"},
        email_step(5, "manual_task", body_html="<p>{{! one line about their industry }}</p>"),
        {"day": 7, "type": "linkedin"},
        email_step(8, "fixed_time", send_time="14:00"),
    ]


def create(actor: Actor, **overrides: Any) -> Any:
    body = {"name": "Q4 outreach", "timezone": "Europe/Paris",
            "settings": {"skip_weekends": True, "stop_on_reply": True,
                         "remove_on_bounce": True},
            "steps": six_steps()}
    body.update(overrides)
    return actor.post("/api/v1/campaigns", json=body)


def test_create_and_read_back(rep: Actor) -> None:
    response = create(rep)
    assert response.status_code == 201, response.json
    cid = response.json["id"]
    got = rep.get(f"/api/v1/campaigns/{cid}").json
    assert got["name"] == "Q4 outreach"
    assert [s["send_option"] for s in got["steps"]] == [
        "fixed_time", "same_time_as_previous", None, "manual_task", None, "fixed_time"]
    assert got["steps"][1]["reply_to_previous"] is True
    assert got["steps"][0]["send_time"] == "09:30"
    assert got["settings"]["skip_weekends"] is True
    listed = rep.get("/api/v1/campaigns").json["campaigns"]
    assert [c["id"] for c in listed] == [cid]


def test_reply_subject_is_ignored(rep: Actor) -> None:
    steps = six_steps()
    steps[1]["subject"] = "ignored"
    cid = create(rep, steps=steps).json["id"]
    assert rep.get(f"/api/v1/campaigns/{cid}").json["steps"][1]["subject"] == ""


@pytest.mark.parametrize(
    ("steps", "field", "needle"),
    [
        ([email_step(1, "same_time_as_previous")], "steps[0].send_option", "first"),
        ([email_step(1, "fixed_time")], "steps[0].send_time", "required"),
        ([email_step(1, "fixed_time", send_time="9:30")], "steps[0].send_time", "HH:MM"),
        ([email_step(1, "fixed_time", send_time="24:00")], "steps[0].send_time", "HH:MM"),
        ([{"day": 1, "type": "call"}, email_step(2, "fixed_time", send_time="09:00",
                                                 reply_to_previous=True)],
         "steps[1].reply_to_previous", "email step right before"),
        ([email_step(1, "choose_at_launch"), email_step(2, "choose_at_launch")],
         "steps[1].send_option", "later"),
        ([email_step(2, "fixed_time", send_time="09:00")], "steps[0].day", "day 1"),
        ([email_step(1, "fixed_time", send_time="09:00"), email_step(0, "fixed_time",
                                                                      send_time="09:00")],
         "steps[1].day", "between 1"),
        ([email_step(1, "fixed_time", send_time="09:00"), {"day": 3, "type": "call"},
          {"day": 2, "type": "call"}], "steps[2].day", "decrease"),
        ([email_step(1, "fixed_time", send_time="09:00", body_html="<p>{{! personal }}</p>")],
         "steps[0].body_html", "prompt"),
        ([email_step(1, "fixed_time", send_time="09:00", body_html="<p>{{first_name</p>")],
         "steps[0].body_html", "}}"),
        ([email_step(1, "fixed_time", send_time="09:00", body_html="")],
         "steps[0].body_html", "required"),
        ([email_step(1, "fixed_time", send_time="09:00", subject="")],
         "steps[0].subject", "required"),
        ([email_step(1, "fixed_time", send_time="09:00", subject="Hi\r\nBcc: x@y.z")],
         "steps[0].subject", "line breaks"),
        ([{"day": 1, "type": "fax"}], "steps[0].type", "one of"),
        ([{"day": "1", "type": "call"}], "steps[0].day", "integer"),
        ([email_step(1, "fixed_time", send_time="09:00", reply_to_previous="yes")],
         "steps[0].reply_to_previous", "true or false"),
        ([{"day": 1, "type": "call", "send_option": "fixed_time"}],
         "steps[0].send_option", "only email"),
        ([email_step(1, "fixed_time", send_time="09:00", template_id=999999, body_html=None)],
         "steps[0].template_id", "no such template"),
        ([], "steps", "non-empty"),
    ],
)
def test_invalid_steps_are_refused_with_the_field(
    rep: Actor, steps: list[dict[str, Any]], field: str, needle: str
) -> None:
    response = create(rep, steps=steps)
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    matching = [e for e in errors if e["field"] == field]
    assert matching, errors
    assert any(needle.lower() in e["message"].lower() for e in matching), matching
    assert rep.get("/api/v1/campaigns").json["campaigns"] == []


def test_unknown_merge_field_is_allowed(rep: Actor) -> None:
    steps = [email_step(1, "fixed_time", send_time="09:00", body_html="<p>{{favourite_tool}}</p>")]
    assert create(rep, steps=steps).status_code == 201


def test_prompts_are_allowed_on_manual_steps_only(rep: Actor) -> None:
    steps = [email_step(1, "manual_task", body_html="<p>{{! why them }}</p>")]
    assert create(rep, steps=steps).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"settings": {"skip_weekends": "no"}}, "settings.skip_weekends"),
        ({"settings": []}, "settings"),
    ],
)
def test_invalid_campaign_fields(rep: Actor, body: dict[str, Any], field: str) -> None:
    response = create(rep, **body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json["errors"]]


def test_malformed_json_and_wrong_content_type(rep: Actor) -> None:
    bad = rep.post("/api/v1/campaigns", data="{not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json["errors"][0]["message"]
    form = rep.post("/api/v1/campaigns", data="name=x",
                    content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    array = rep.post("/api/v1/campaigns", json=[1, 2])
    assert array.status_code == 422


def test_oversized_payload_is_refused(rep: Actor, app: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = rep.post("/api/v1/campaigns", data="x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert response.json["errors"][0]["message"] == "the request is too large"


def test_patch_changes_only_what_is_given(rep: Actor) -> None:
    cid = create(rep).json["id"]
    response = rep.patch(f"/api/v1/campaigns/{cid}", json={"name": "Renamed",
                                                            "settings": {"skip_weekends": False}})
    assert response.status_code == 200, response.json
    got = rep.get(f"/api/v1/campaigns/{cid}").json
    assert got["name"] == "Renamed"
    assert got["settings"] == {"skip_weekends": False, "stop_on_reply": True,
                               "mark_success_on_reply": False, "remove_on_bounce": True,
                               "use_recipient_timezone": False,
                               "reply_from_same_domain": False,
                               "stop_other_campaigns_on_reply": False,
                               "skip_if_active_elsewhere": False,
                               "stop_company_on_colleague_reply": False, "sending_window": None,
                               "holiday_countries": []}
    assert len(got["steps"]) == 6
    bad = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": [email_step(1, "fixed_time")]})
    assert bad.status_code == 422
    assert rep.get(f"/api/v1/campaigns/{cid}").json["steps"][0]["send_time"] == "09:30"
    fewer = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": six_steps()[:2]})
    assert fewer.status_code == 200
    assert len(rep.get(f"/api/v1/campaigns/{cid}").json["steps"]) == 2


def test_auth_is_required_and_tokens_are_checked(rep: Actor, client: Any) -> None:
    assert client.get("/api/v1/campaigns").status_code == 401
    wrong = client.get("/api/v1/campaigns", headers={"Authorization": "Bearer as_nope"})
    assert wrong.status_code == 401
    assert wrong.json["errors"][0]["field"] == "Authorization"
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_other_organisations_see_nothing(rep: Actor, runtime: Any, client: Any) -> None:
    cid = create(rep).json["id"]
    other = make_actor(runtime, client, "eve@evil.test", org="Evil", admin=True)
    assert other.get(f"/api/v1/campaigns/{cid}").status_code == 404
    assert other.patch(f"/api/v1/campaigns/{cid}", json={"name": "x"}).status_code == 404
    assert other.post(f"/api/v1/campaigns/{cid}/launch",
                      json={"people": [{"email": "a@b.test"}]}).status_code == 404
    assert other.get("/api/v1/campaigns").json["campaigns"] == []


def test_colleague_sees_only_own_but_admin_sees_all(rep: Actor, runtime: Any,
                                                     client: Any) -> None:
    cid = create(rep).json["id"]
    colleague = make_actor(runtime, client, "bob@acme.test")
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    assert colleague.get(f"/api/v1/campaigns/{cid}").status_code == 404
    assert admin.get(f"/api/v1/campaigns/{cid}").status_code == 200


def test_templates_are_saved_and_used_by_steps(rep: Actor) -> None:
    t = rep.post("/api/v1/templates", json={"name": "Intro", "subject": "Hello {{company}}",
                                            "body_html": "<p>Hi {{first_name}}</p>"})
    assert t.status_code == 201, t.json
    steps = [{"day": 1, "type": "email", "send_option": "fixed_time", "send_time": "10:00",
              "template_id": t.json["id"]}]
    assert create(rep, steps=steps).status_code == 201
    preview = rep.post("/api/v1/preview", json={
        "template_id": t.json["id"],
        "person": {"email": "zoe@corp.test", "first_name": "Zoé <b>", "company": "Corp"}})
    assert preview.status_code == 200, preview.json
    assert preview.json["subject"] == "Hello Corp"
    assert preview.json["body_html"] == "<p>Hi Zoé &lt;b&gt;</p>"
    missing = rep.post("/api/v1/preview", json={"body_html": "<p>{{title}}</p>",
                                                "person": {"email": "x@y.test"}})
    assert missing.json["missing_fields"] == ["title"]


def test_steps_people_are_on_cannot_be_removed_or_retyped(rep: Actor) -> None:
    cid = create(rep).json["id"]
    launched = rep.post(f"/api/v1/campaigns/{cid}/launch",
                        json={"people": [{"email": "a@corp.test"}]})
    assert launched.status_code == 201
    retyped = six_steps()
    retyped[0] = {"day": 1, "type": "call"}
    retyped[1] = email_step(3, "fixed_time", send_time="09:30")
    response = rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": retyped})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "steps[0].type"
    # Later steps are free to change, and the list may shrink down to the step people are on.
    assert rep.patch(f"/api/v1/campaigns/{cid}", json={"steps": six_steps()[:1]}).status_code == 200
    eid = launched.json["enrollments"][0]["id"]
    assert len(rep.get(f"/api/v1/enrollments/{eid}").json["steps"]) == 1
