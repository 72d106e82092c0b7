"""The same Outlook add-in as a unified (JSON) manifest, for the Microsoft 365 app package.

The XML manifest is the one to sideload everywhere (the unified manifest does not work in
Outlook for Mac or mobile); this one serves tenants that deploy through the Teams / Microsoft 365
app catalogue. It describes the same add-in: same Id, the same two buttons, the same task pane,
Mailbox 1.6. Built from small functions (no big literal); the app package is a zip of the
manifest and its two icons.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import urlsplit

from addin_server.addins.outlook import manifest_xml as xml_manifest

MANIFEST_VERSION = "1.17"
SCHEMA_URL = ("https://developer.microsoft.com/json-schemas/teams/v1.17/"
              "MicrosoftTeams.schema.json")
JSON_NAME = "outlook-manifest.json"
PACKAGE_NAME = "outlook-app-package.zip"
ICON_FILES = {"color.png": "icon-192.png", "outline.png": "outline-32.png"}


def _semver(version: str) -> str:
    return ".".join([*version.split("."), "0", "0"][:3])


def _icons(base_url: str) -> list[dict[str, Any]]:
    return [{"size": n, "url": f"{base_url}/outlook/static/icons/icon-{n}.png"}
            for n in (16, 32, 80)]


def _button(base_url: str, context: str, group_id: str, button_id: str,
            action_id: str, group_label: str) -> dict[str, Any]:
    control = {
        "id": button_id, "type": "button", "label": "Campaign tasks", "icons": _icons(base_url),
        "supertip": {"title": "Your campaign tasks",
                     "description": "Open your campaign tasks and the campaigns of the "
                                    "sender of this message."},
        "actionId": action_id,
    }
    group = {"id": group_id, "label": group_label, "icons": _icons(base_url),
             "controls": [control]}
    return {"contexts": [context], "tabs": [{"builtInTabId": "TabDefault", "groups": [group]}]}


def build(base_url: str) -> dict[str, Any]:
    """The unified manifest as a dict, for an https base URL."""
    host = urlsplit(base_url).netloc
    name = "Campaigns (local)" if urlsplit(base_url).hostname in ("localhost", "127.0.0.1") \
        else "Campaigns"
    mailbox = [{"name": "Mailbox", "minVersion": xml_manifest.MAILBOX_MIN}]
    page = base_url + xml_manifest.TASKPANE_PATH
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": _semver(xml_manifest.MANIFEST_VERSION),
        "id": xml_manifest.manifest_id(base_url),
        "localizationInfo": {"defaultLanguageTag": "en-us"},
        "developer": {"name": "addin-server", "websiteUrl": f"{base_url}/",
                      "privacyUrl": f"{base_url}/", "termsOfUseUrl": f"{base_url}/"},
        "name": {"short": name, "full": f"{name}: sales campaign tasks"},
        "description": {
            "short": "Your sales campaign tasks in Outlook.",
            "full": "Write email tasks in the Outlook compose window, see the campaigns of a "
                    "sender and add people to one.",
        },
        "icons": {"outline": "outline.png", "color": "color.png"},
        "accentColor": "#0F6CBD",
        "validDomains": [host],
        "authorization": {"permissions": {"resourceSpecific": [
            {"name": "MailboxItem.ReadWrite.User", "type": "Delegated"}]}},
        "extensions": [{
            "requirements": {"scopes": ["mail"], "capabilities": mailbox},
            "runtimes": [{
                "requirements": {"capabilities": mailbox},
                "id": "TaskPaneRuntime", "type": "general", "code": {"page": page},
                "lifetime": "short",
                "actions": [
                    {"id": "openReadPane", "type": "openPage", "pinnable": True},
                    {"id": "openComposePane", "type": "openPage", "pinnable": False},
                ],
            }],
            "ribbons": [
                _button(base_url, "mailRead", "msgReadGroup", "msgReadOpenPaneButton",
                        "openReadPane", name),
                _button(base_url, "mailCompose", "msgComposeGroup", "msgComposeOpenPaneButton",
                        "openComposePane", name),
            ],
        }],
    }


def package(manifest_json: str) -> bytes:
    """The app package: manifest.json and its two icons, zipped reproducibly."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("manifest.json", manifest_json.encode())] + [
            (target, (xml_manifest.ADDIN_ICONS / source).read_bytes())
            for target, source in ICON_FILES.items()
        ]:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def render(base_url: str) -> dict[str, str | bytes]:
    """{file name: content}: the JSON manifest and the zip to upload."""
    xml_manifest.render(base_url)  # the same URL rules (https origin only)
    text = json.dumps(build(base_url.rstrip("/")), indent=2) + "\n"
    return {JSON_NAME: text, PACKAGE_NAME: package(text)}
