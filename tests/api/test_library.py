"""The library's APIs (issue 17 points 1, 3, 6): templates shared with the organisation,
duplicated, searched and deleted (refused while a live step uses them); suppressions and blocked
domains searched, paged and added many at once with per-line errors; the organisation's
settings, which new campaigns start from."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.models import Enrollment, Organisation, Step, Suppression
from addin_server.runtime import Runtime
from tests.api.test_campaigns import create, email_step
from tests.conftest import Actor, make_actor
from tests.support.replies import launch


def _uses(template_id: int, day: int = 1) -> dict[str, Any]:
    """An email step whose content is a saved template."""
    return {"day": day, "type": "email", "send_option": "fixed_time", "send_time": "09:00",
            "template_id": template_id}


def _template(actor: Actor, name: str, **kw: Any) -> Any:
    body = {"name": name, "subject": "Hi {{first_name}}", "body_html": "<p>Hello</p>", **kw}
    return actor.post("/api/v1/templates", json=body)


# --- templates --------------------------------------------------------------------------------


def test_shared_templates_are_used_by_every_rep_and_managed_by_admins(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    other = make_actor(runtime, client, "zed@acme.test")
    outsider = make_actor(runtime, client, "eve@evil.test", org="Evil")
    # Only an administrator shares one.
    refused = _template(rep, "Mine, shared", shared=True)
    assert refused.status_code == 403 and refused.json["errors"][0]["field"] == "shared"
    shared = _template(admin, "Intro (team)", shared=True).json
    private = _template(rep, "Ann's intro").json
    assert shared["shared"] is True and shared["owner"] == "boss@acme.test"
    assert private["shared"] is False and private["can_manage"] is True

    names = [t["name"] for t in other.get("/api/v1/templates").json["templates"]]
    assert names == ["Intro (team)"]  # the shared one, not Ann's private one
    seen = other.get(f"/api/v1/templates/{shared['id']}").json
    assert seen["can_manage"] is False
    assert other.get(f"/api/v1/templates/{private['id']}").status_code == 404
    assert outsider.get(f"/api/v1/templates/{shared['id']}").status_code == 404
    # A rep uses it (in a step) but may not change or delete it.
    assert create(other, steps=[_uses(shared["id"])]).status_code == 201
    assert other.patch(f"/api/v1/templates/{shared['id']}",
                       json={"name": "x"}).status_code == 403
    assert other.delete(f"/api/v1/templates/{shared['id']}").status_code == 403
    # ...nor share their own.
    assert rep.patch(f"/api/v1/templates/{private['id']}",
                     json={"shared": True}).status_code == 403
    assert rep.patch(f"/api/v1/templates/{private['id']}",
                     json={"name": "Ann's intro v2"}).json["name"] == "Ann's intro v2"
    # The admin shares Ann's: Ann now only uses it.
    assert admin.patch(f"/api/v1/templates/{private['id']}",
                       json={"shared": True}).json["shared"] is True
    assert rep.patch(f"/api/v1/templates/{private['id']}",
                     json={"name": "again"}).status_code == 403
    assert {t["name"] for t in other.get("/api/v1/templates?shared=1").json["templates"]} == {
        "Intro (team)", "Ann's intro v2"}


def test_search_and_duplicate(rep: Actor) -> None:
    _template(rep, "Pricing follow-up", subject="About 50% off")
    _template(rep, "Intro", subject="Quick question")
    found = rep.get("/api/v1/templates?q=QUICK").json["templates"]
    assert [t["name"] for t in found] == ["Intro"]
    assert [t["name"] for t in rep.get("/api/v1/templates?q=50%25").json["templates"]] == [
        "Pricing follow-up"]
    assert rep.get("/api/v1/templates?q=%25%25x").json["templates"] == []  # % is a letter
    assert rep.get("/api/v1/templates?shared=yes").status_code == 422
    source = found[0]
    copy = rep.post(f"/api/v1/templates/{source['id']}/duplicate")
    assert copy.status_code == 201
    assert copy.json["name"] == "Copy of Intro" and copy.json["subject"] == "Quick question"
    assert copy.json["id"] != source["id"] and copy.json["shared"] is False


def test_a_rep_duplicates_a_shared_template_into_their_own(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    shared = _template(admin, "Team intro", shared=True).json
    copy = rep.post(f"/api/v1/templates/{shared['id']}/duplicate").json
    assert copy["owner"] == "ann@acme.test" and copy["can_manage"] is True
    assert rep.patch(f"/api/v1/templates/{copy['id']}", json={"name": "Mine"}).status_code == 200


def test_delete_is_refused_while_a_live_step_uses_it(rep: Actor, session: Session) -> None:
    tid = _template(rep, "Intro").json["id"]
    steps = [email_step(1, "fixed_time", send_time="09:00"),
             _uses(tid, day=3)]
    live = create(rep, name="Live one", steps=steps).json["id"]
    idle = create(rep, name="Nobody in it", steps=steps).json["id"]
    [enrollment] = launch(rep, live, "bob@globex.test")
    refused = rep.delete(f"/api/v1/templates/{tid}")
    assert refused.status_code == 409
    message = refused.json["errors"][0]["message"]
    assert "'Live one' step 2" in message and "Nobody in it" not in message
    # Once nobody is left to reach that step, it goes; the idle campaign keeps the text.
    rep.post(f"/api/v1/enrollments/{enrollment}/stop")
    deleted = rep.delete(f"/api/v1/templates/{tid}")
    assert deleted.status_code == 200, deleted.json
    assert deleted.json == {"deleted": tid, "detached_steps": 2}
    step = session.scalar(select(Step).where(Step.campaign_id == idle, Step.position == 1))
    assert step is not None and step.template_id is None
    assert step.subject == "Hi {{first_name}}" and step.body_html == "<p>Hello</p>"
    session.rollback()
    assert rep.get(f"/api/v1/templates/{tid}").status_code == 404
    assert rep.get(f"/api/v1/campaigns/{idle}").status_code == 200


def test_preview_with_a_shared_template_and_a_chosen_person(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    tid = _template(admin, "Team", shared=True, body_html="<p>Hi {{company}}</p>").json["id"]
    cid = create(rep, steps=[email_step(1, "manual_task")]).json["id"]
    rep.post(f"/api/v1/campaigns/{cid}/launch",
             json={"people": [{"email": "bob@globex.test", "company": "Globex"}]})
    shown = rep.post("/api/v1/preview", json={"template_id": tid,
                                              "person_email": "bob@globex.test"})
    assert shown.status_code == 200, shown.json
    assert shown.json["body_html"] == "<p>Hi Globex</p>"


# --- suppressions and blocked domains ------------------------------------------------------


def test_bulk_suppressions_name_each_bad_line_and_add_nothing(
    rep: Actor, runtime: Runtime, client: FlaskClient, session: Session
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    csv = "Name,Email Address\nBob,bob@globex.test\nNo one,not-an-address\n\nCat,cat@\n"
    bad = admin.post("/api/v1/suppressions/bulk", json={"csv": csv})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json["errors"]] == ["csv line 3", "csv line 5"]
    assert session.scalar(select(Suppression.id)) is None
    session.rollback()
    listed = admin.post("/api/v1/suppressions/bulk",
                        json={"entries": ["a@x.test", "nope"], "note": "asked"})
    assert listed.status_code == 422 and listed.json["errors"][0]["field"] == "entries[1]"
    # A rep may not add many at once.
    assert rep.post("/api/v1/suppressions/bulk", json={"entries": ["a@x.test"]}
                    ).status_code == 403

    cid = create(rep, steps=[email_step(1, "manual_task")]).json["id"]
    [enrollment] = launch(rep, cid, "bob@globex.test")
    ok = admin.post("/api/v1/suppressions/bulk", json={
        "csv": "email\nBob@Globex.test\ncarol@globex.test\n", "note": "trade show opt-outs"})
    assert ok.status_code == 201, ok.json
    assert ok.json == {"added": ["bob@globex.test", "carol@globex.test"], "already": []}
    again = admin.post("/api/v1/suppressions/bulk", json={"entries": ["carol@globex.test"]})
    assert again.status_code == 200 and again.json["already"] == ["carol@globex.test"]
    session.expire_all()
    assert session.get(Enrollment, enrollment).status.value == "stopped"  # type: ignore[union-attr]
    session.rollback()
    row = rep.get("/api/v1/suppressions?q=carol").json
    assert row["total"] == 1
    assert row["suppressions"][0] | {"created_at": ""} == {
        "email": "carol@globex.test", "reason": "manual", "note": "trade show opt-outs",
        "created_by": "boss@acme.test", "created_at": ""}


def test_suppression_list_is_searched_and_paged(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    emails = [f"p{i:02d}@corp.test" for i in range(25)] + ["x_y@other.test"]
    admin.post("/api/v1/suppressions/bulk", json={"entries": emails})
    page = rep.get("/api/v1/suppressions?q=corp&limit=10&offset=20").json
    assert page["total"] == 25
    assert [s["email"] for s in page["suppressions"]] == [f"p{i}@corp.test" for i in range(20, 25)]
    # _ is a letter, not a wildcard.
    assert rep.get("/api/v1/suppressions?q=x_y").json["total"] == 1
    assert rep.get("/api/v1/suppressions?q=p_1").json["total"] == 0
    assert rep.get("/api/v1/suppressions?reason=manual").json["total"] == 26
    assert rep.get("/api/v1/suppressions?reason=other").status_code == 422


def test_blocked_domains_in_bulk_searched_with_who(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    bad = admin.post("/api/v1/blocked-domains/bulk", json={"csv": "rival.test\nnot a domain\n"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "csv line 2"
    ok = admin.post("/api/v1/blocked-domains/bulk",
                    json={"csv": "domain;note\n@Rival.test;x\ncustomer.test;y\n"})
    assert ok.status_code == 201 and ok.json["added"] == ["rival.test", "customer.test"]
    found = rep.get("/api/v1/blocked-domains?q=riv").json
    assert found["total"] == 1 and found["blocked_domains"][0]["created_by"] == "boss@acme.test"
    assert rep.post("/api/v1/blocked-domains/bulk", json={"entries": ["a.test"]}
                    ).status_code == 403


# --- the organisation ------------------------------------------------------------------------


def test_organisation_settings_are_for_admins(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    assert rep.get("/api/v1/organisation").status_code == 403
    assert rep.patch("/api/v1/organisation", json={"working_days": ["mon"]}).status_code == 403
    got = admin.get("/api/v1/organisation").json
    assert got["name"] == "Acme" and got["domains"] == ["acme.test"]
    assert got["working_days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert got["stop_rules"]["stop_on_reply"] is True
    assert got["shared_launch"] == "owner_and_admins" and got["default_timezone"] is None


def test_organisation_patch_names_each_bad_field_and_changes_nothing(
    runtime: Runtime, client: FlaskClient, session: Session
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    bad = admin.patch("/api/v1/organisation", json={
        "default_timezone": "Mars/Base", "holiday_countries": ["FR", "XX"],
        "domains": ["acme.test", "not a domain"], "working_days": ["mon", "someday"]})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json["errors"]}
    assert "working_days[1]" in fields  # the schema's check names the item
    bad = admin.patch("/api/v1/organisation", json={
        "default_timezone": "Mars/Base", "holiday_countries": ["FR", "XX"],
        "domains": ["acme.test", "not a domain"]})
    assert {e["field"] for e in bad.json["errors"]} == {
        "default_timezone", "holiday_countries[1]", "domains[1]"}
    # The admin's own domain must stay, else they could no longer sign in.
    locked = admin.patch("/api/v1/organisation", json={"domains": ["acme.com"]})
    assert locked.status_code == 422 and "acme.test" in locked.json["errors"][0]["message"]
    org = session.scalar(select(Organisation).where(Organisation.name == "Acme"))
    assert org is not None and org.settings in ({}, None) and org.signin_domains == "acme.test"


def test_new_campaigns_start_from_the_organisation_settings(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    changed = admin.patch("/api/v1/organisation", json={
        "default_timezone": "America/New_York", "working_days": ["mon", "tue", "wed", "thu"],
        "holiday_countries": ["us-ca"], "stop_rules": {"stop_on_reply": False,
                                                       "stop_other_campaigns_on_reply": True},
        "domains": ["acme.test", "Acme.co.uk"]})
    assert changed.status_code == 200, changed.json
    assert changed.json["domains"] == ["acme.co.uk", "acme.test"]
    assert changed.json["holiday_countries"] == ["US-CA"]
    body = {"name": "Defaults", "steps": [email_step(1, "fixed_time", send_time="09:00")]}
    made = rep.post("/api/v1/campaigns", json=body).json
    assert made["timezone"] == "America/New_York"
    settings = made["settings"]
    assert settings["stop_on_reply"] is False and settings["stop_other_campaigns_on_reply"]
    assert settings["holiday_countries"] == ["US-CA"] and settings["skip_weekends"] is True
    assert settings["sending_window"] == {"days": ["mon", "tue", "wed", "thu"],
                                          "start": "00:00", "end": "23:59"}
    # What the body says wins.
    mine = rep.post("/api/v1/campaigns", json={**body, "timezone": "Europe/Paris",
                                                "settings": {"stop_on_reply": True}}).json
    assert mine["timezone"] == "Europe/Paris" and mine["settings"]["stop_on_reply"] is True
    # The organisation's domains make a colleague warning at launch.
    cid = made["id"]
    warned = rep.post(f"/api/v1/campaigns/{cid}/launch",
                      json={"people": [{"email": "jo@acme.co.uk"}], "dry_run": True}).json
    assert "colleague" in [w["code"] for w in warned["warnings"]]


def test_who_may_launch_on_a_colleagues_campaign(
    rep: Actor, runtime: Runtime, client: FlaskClient
) -> None:
    admin = make_actor(runtime, client, "boss@acme.test", admin=True)
    other = make_actor(runtime, client, "zed@acme.test")
    cid = create(rep, steps=[email_step(1, "manual_task")]).json["id"]
    people = {"people": [{"email": "bob@globex.test"}]}
    assert other.post(f"/api/v1/campaigns/{cid}/launch", json=people).status_code == 404
    admin.patch("/api/v1/organisation", json={"shared_launch": "all_reps"})
    launched = other.post(f"/api/v1/campaigns/{cid}/launch", json=people)
    assert launched.status_code == 201, launched.json
    # Still not theirs to change.
    assert other.patch(f"/api/v1/campaigns/{cid}", json={"name": "x"}).status_code == 404
    assert admin.patch("/api/v1/organisation", json={"shared_launch": "everyone"}
                       ).status_code == 422
