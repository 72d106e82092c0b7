"""The Gmail add-on deployment descriptor: rendered by `addin-server render-manifests` from the
configured base URL, and parsed by Google's own Deployment proto (which rejects unknown
fields, such as Apps Script's `selectActions`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.cloud.gsuiteaddons_v1 import Deployment

from addin_server import create_app
from addin_server.cli import register_commands
from addin_server.config import Settings
from addin_server.runtime import Runtime
from gmail_addon.deployment import deployment
from gmail_addon.endpoints import Endpoints


def render(tmp_path: Path, base_url: str) -> tuple[int, str, Path]:
    s = Settings(instance_path=str(tmp_path / "instance"),
                 database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", dev_mode=True)
    app = create_app(runtime=Runtime.from_settings(s))
    register_commands(app)
    out = tmp_path / "manifests"
    result = app.test_cli_runner().invoke(
        args=["render-manifests", "--base-url", base_url, "--out", str(out)])
    return result.exit_code, result.output, out


def test_render_manifests_writes_a_deployment_google_accepts(tmp_path: Path) -> None:
    code, output, out = render(tmp_path, "https://campaigns.example.com")
    assert code == 0, output
    path = out / "gmail-addon-deployment.json"
    assert f"wrote {path}" in output
    text = path.read_text()
    parsed = Deployment.from_json(text)  # raises on any unknown field or bad enum value
    addons = parsed.add_ons
    base = "https://campaigns.example.com/gmail"
    assert addons.common.homepage_trigger.run_function == f"{base}/homepage"
    assert [t.on_trigger_function for t in addons.gmail.contextual_triggers] == [
        f"{base}/contextual"]
    assert "unconditional" in json.loads(text)["addOns"]["gmail"]["contextualTriggers"][0]
    assert [a.run_function for a in addons.gmail.compose_trigger.actions] == [f"{base}/compose"]
    assert addons.gmail.compose_trigger.draft_access.name == "METADATA"
    assert [(a.label, a.run_function or a.open_link) for a in addons.common.universal_actions] == [
        ("My tasks", f"{base}/homepage"), ("Open the web app", "https://campaigns.example.com/")]
    assert list(addons.common.open_link_url_prefixes) == ["https://campaigns.example.com/"]
    assert addons.http_options.authorization_header.name == "SYSTEM_ID_TOKEN"
    assert addons.common.logo_url == f"{base}/logo.png"
    assert set(parsed.oauth_scopes) == {
        "https://www.googleapis.com/auth/gmail.addons.execute",
        "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
        "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/script.locale",
    }
    # every function URL is one the app serves, under the configured base
    functions = {addons.common.homepage_trigger.run_function,
                 addons.gmail.contextual_triggers[0].on_trigger_function,
                 addons.gmail.compose_trigger.actions[0].run_function}
    assert functions <= Endpoints("https://campaigns.example.com").all()


def test_a_non_https_base_is_refused(tmp_path: Path) -> None:
    code, _output, out = render(tmp_path, "http://127.0.0.1:5000")
    assert code != 0
    assert not (out / "gmail-addon-deployment.json").exists()
    with pytest.raises(ValueError, match="must start with https://"):
        deployment("http://127.0.0.1:5000")


def test_the_proto_check_catches_the_apps_script_spelling() -> None:
    # guards the guard: the validator really rejects the field name that breaks HTTP add-ons
    data = deployment("https://campaigns.example.com")
    trigger = data["addOns"]["gmail"]["composeTrigger"]
    trigger["selectActions"] = trigger.pop("actions")
    with pytest.raises(Exception, match="selectActions"):
        Deployment.from_json(json.dumps(data))


def test_committed_example_is_up_to_date() -> None:
    from addin_server.addins.gmail.manifest import FILE_NAME, render

    example = Path(__file__).resolve().parents[3] / "manifests" / "examples" / FILE_NAME
    assert example.read_text() == render("https://addin.example.com")[FILE_NAME], (
        "run: addin-server render-manifests --base-url https://addin.example.com "
        "--out manifests/examples")
    Deployment.from_json(example.read_text())
