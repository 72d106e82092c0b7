"""The Outlook XML manifest: rendered from one template, checked offline. Each rule of the
checker is shown to catch a manifest that breaks it."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from addin_server.addins.outlook.manifest_json import JSON_NAME, PACKAGE_NAME, build
from addin_server.addins.outlook.manifest_json import render as render_json
from addin_server.addins.outlook.manifest_xml import FILE_NAME, NS, check, manifest_id, render
from addin_server.cli.manifests import render_manifests

BASE = "https://addin.example.com"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def manifest() -> str:
    text = render(BASE)[FILE_NAME]
    assert isinstance(text, str)
    return text


def test_rendered_manifest_passes_every_rule(manifest: str) -> None:
    assert check(manifest) == []


def test_rendered_values(manifest: str) -> None:
    root = ET.fromstring(manifest)
    q = {"o": NS["o"], "bt": NS["bt"]}
    assert root.findtext("o:Id", namespaces=q) == manifest_id(BASE)
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", manifest_id(BASE))
    assert manifest_id(BASE) != manifest_id("https://staging.example.com")
    assert root.findtext("o:Permissions", namespaces=q) == "ReadWriteItem"
    urls = {u.get("id"): u.get("DefaultValue") for u in root.iter(f"{{{NS['bt']}}}Url")}
    # The task pane button opens the page Flask serves.
    assert urls == {"taskpaneUrl": f"{BASE}/outlook/taskpane.html"}
    images = sorted({i.get("DefaultValue") for i in root.iter(f"{{{NS['bt']}}}Image")
                     if i.get("DefaultValue")})
    assert images == [f"{BASE}/outlook/static/icons/icon-{n}.png" for n in (16, 32, 80)]
    assert root.find("o:Requirements/o:Sets/o:Set", q).get("MinVersion") == "1.6"  # type: ignore[union-attr]
    assert render(BASE + "/")[FILE_NAME] == manifest


def test_every_icon_and_page_the_manifest_names_exists(manifest: str) -> None:
    for path in set(re.findall(r"https://addin\.example\.com/outlook/static/([\w/.-]+)",
                               manifest)):
        assert (ROOT / "outlook_addin" / path).is_file(), path
    assert (ROOT / "outlook_addin" / "taskpane.html").is_file()


@pytest.mark.parametrize("base", ["http://addin.example.com", "https://addin.example.com/x",
                                  "ftp://addin.example.com", "addin.example.com"])
def test_only_https_origins_render(base: str) -> None:
    with pytest.raises(ValueError, match="https"):
        render(base)


def _swap(text: str, a: str, b: str) -> str:
    first, second = re.search(a, text, re.S), re.search(b, text, re.S)
    assert first and second and first.end() <= second.start()
    return (text[: first.start()] + second.group(0) + text[first.end(): second.start()]
            + first.group(0) + text[second.end():])


def _sub(pattern: str, replacement: str, count: int = 1):  # type: ignore[no-untyped-def]
    def change(text: str) -> str:
        changed = re.sub(pattern, replacement, text, count=count, flags=re.S)
        assert changed != text, pattern
        return changed
    return change


BROKEN = {
    "order": (lambda t: _swap(t, r"<Version>.*?</Version>",
                              r"<ProviderName>.*?</ProviderName>"), "order"),
    "guid": (_sub(r"<Id>[^<]+</Id>", "<Id>not-a-guid</Id>"), "GUID"),
    "version": (_sub(r"<Version>[^<]+</Version>", "<Version>1.0.0.0.0</Version>"), "Version"),
    "http url": (_sub(r'(<bt:Image id="icon32" DefaultValue=")https', r"\1http"), "https"),
    "undefined resid": (_sub(r'resid="paneButtonTitle"', 'resid="nothing"'), "nothing"),
    "wrong kind of resid": (_sub(r'<Label resid="paneButtonLabel"/>',
                                 '<Label resid="paneButtonTooltip"/>'), "ShortStrings"),
    "long short string": (_sub(r'(id="paneButtonLabel" DefaultValue=")[^"]*',
                               r"\1" + "x" * 126), "125"),
    "long description": (_sub(r'(<Description DefaultValue=")[^"]*', r"\1" + "y" * 251),
                         "250"),
    "requirement set": (_sub(r'MinVersion="1.6"', 'MinVersion="1.5"'), "Mailbox"),
    "override requirement": (_sub(r'DefaultMinVersion="1.6"', 'DefaultMinVersion="1.3"'),
                             "bt:Sets"),
    "missing icon size": (_sub(r'<bt:Image size="80" resid="icon80"/>', ""), "80"),
    "permissions": (_sub(r"<Permissions>ReadWriteItem", "<Permissions>Restricted"),
                    "Permissions"),
    "no pinning": (_sub(r"<SupportsPinning>true</SupportsPinning>", ""), "pinnable"),
    "1.1 not last": (_sub(r'(</Resources>\s*)(<VersionOverrides xmlns="[^"]+/1.1".*?'
                          r"</VersionOverrides>)", r"\2\1<Resources/>"), "last child"),
    "no compose button": (_sub(r'xsi:type="MessageComposeCommandSurface"',
                               'xsi:type="MessageReadCommandSurface"', count=0),
                          "MessageComposeCommandSurface"),
    "missing required": (_sub(r"<Permissions>[^<]*</Permissions>", ""), "Permissions"),
    "not xml": (_sub(r"</OfficeApp>", "</Office>"), "well-formed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_checker_catches(case: str, manifest: str) -> None:
    breaker, needle = BROKEN[case]
    problems = check(breaker(manifest))
    assert problems, case
    assert any(needle in p for p in problems), problems


def test_command_writes_the_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(render_manifests, ["--base-url", BASE, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / FILE_NAME).read_text() == render(BASE)[FILE_NAME]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gmail-addon-deployment.json", PACKAGE_NAME, JSON_NAME, FILE_NAME]
    refused = CliRunner().invoke(render_manifests, ["--base-url", "http://addin.example.com",
                                                    "--out", str(tmp_path / "no")])
    assert refused.exit_code == 2 and "https" in refused.output
    assert not (tmp_path / "no").exists()


def test_committed_example_is_up_to_date() -> None:
    example = ROOT / "manifests" / "examples" / FILE_NAME
    assert example.read_text() == render(BASE)[FILE_NAME], (
        "run: addin-server render-manifests --base-url https://addin.example.com "
        "--out manifests/examples")


# --- the unified (JSON) manifest and its app package -------------------------------------------

SCHEMA = ROOT / "tests" / "fixtures" / "app-manifest" / "MicrosoftTeams.v1.17.schema.json"


def _schema_errors(manifest: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(manifest)]


def test_json_manifest_passes_the_published_schema() -> None:
    assert _schema_errors(build(BASE)) == []


@pytest.mark.parametrize(("path", "value"), [
    (("name", "short"), "x" * 31), (("id",), "not-a-guid"),
    (("accentColor",), "blue"), (("extensions", 0, "runtimes", 0, "code", "page"), "p.html"),
    (("extensions", 0, "ribbons", 0, "contexts"), ["mailReadd"]),
])
def test_the_schema_check_catches_a_broken_json_manifest(path: tuple[Any, ...],
                                                         value: Any) -> None:
    manifest = build(BASE)
    target: Any = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert _schema_errors(manifest)


def test_json_manifest_describes_the_same_add_in(manifest: str) -> None:
    data = build(BASE)
    assert data["id"] == manifest_id(BASE)
    assert data["version"] == "1.0.0"
    (extension,) = data["extensions"]
    assert extension["requirements"]["capabilities"] == [{"name": "Mailbox",
                                                          "minVersion": "1.6"}]
    (runtime,) = extension["runtimes"]
    assert runtime["code"]["page"] == f"{BASE}/outlook/taskpane.html"
    pinnable = {a["id"]: a["pinnable"] for a in runtime["actions"]}
    by_context = {r["contexts"][0]: r["tabs"][0]["groups"][0]["controls"][0]["actionId"]
                  for r in extension["ribbons"]}
    assert by_context == {"mailRead": "openReadPane", "mailCompose": "openComposePane"}
    assert pinnable == {"openReadPane": True, "openComposePane": False}
    assert data["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "MailboxItem.ReadWrite.User", "type": "Delegated"}]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_app_package_holds_the_manifest_and_its_icons() -> None:
    files = render_json(BASE)
    with zipfile.ZipFile(io.BytesIO(files[PACKAGE_NAME])) as archive:  # type: ignore[arg-type]
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert archive.read("manifest.json").decode() == files[JSON_NAME]
        assert _png_size(archive.read("color.png")) == (192, 192)
        assert _png_size(archive.read("outline.png")) == (32, 32)
    assert render_json(BASE)[PACKAGE_NAME] == files[PACKAGE_NAME]  # reproducible
    with pytest.raises(ValueError, match="https"):
        render_json("http://addin.example.com")


def test_committed_json_example_is_up_to_date() -> None:
    example = ROOT / "manifests" / "examples" / JSON_NAME
    assert example.read_text() == render_json(BASE)[JSON_NAME]
