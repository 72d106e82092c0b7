"""The Outlook add-in's XML manifest (add-in only, MailApp): rendered from one template for a
public base URL, and checked offline against the schema's rules.

Microsoft's validator for the XML form posts it to a web service, and no package ships the XSDs,
so `check` encodes the rules we rely on: element order, value formats, https URLs, resource ids,
string lengths and the Mailbox requirement set the pane's code needs.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

FILE_NAME = "outlook-manifest.xml"
# Bump on every change of the manifest: Outlook caches add-ins by Id + Version.
MANIFEST_VERSION = "1.0.0.0"
# displayNewMessageForm is Mailbox 1.6 (the Async form, 1.9, is used only when supported).
MAILBOX_MIN = "1.6"
TASKPANE_PATH = "/outlook/taskpane.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ADDIN_ICONS = Path(__file__).resolve().parents[3] / "outlook_addin" / "icons"

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "vo10": "http://schemas.microsoft.com/office/mailappversionoverrides",
    "vo11": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"
# Children of OfficeApp in schema order (MailApp), and which must be there.
OFFICEAPP_ORDER = (
    "Id", "AlternateId", "Version", "ProviderName", "DefaultLocale", "DisplayName",
    "Description", "IconUrl", "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts",
    "Requirements", "FormSettings", "Permissions", "Rule", "DisableEntityHighlighting",
    "VersionOverrides",
)
OFFICEAPP_REQUIRED = ("Id", "Version", "ProviderName", "DefaultLocale", "DisplayName",
                      "Description", "Requirements", "FormSettings", "Permissions", "Rule")
OVERRIDES_ORDER = ("Description", "Requirements", "Hosts", "Resources", "WebApplicationInfo",
                   "EquivalentAddins", "ConnectedServiceControls", "ExtendedPermissions",
                   "VersionOverrides")
PERMISSIONS = ("Restricted", "ReadItem", "ReadWriteItem", "ReadWriteMailbox")
GUID = re.compile(r"\A(\{|urn:uuid:)?[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?\Z")
VERSION = re.compile(r"\A\d{1,5}(\.\d{1,5}){0,3}\Z")
SHORT, LONG, URL_MAX = 125, 250, 2048
RESOURCE_KIND = {"Images": "Image", "Urls": "Url", "ShortStrings": "String",
                 "LongStrings": "String"}


def manifest_id(base_url: str) -> str:
    """A stable GUID per deployment: each environment's manifest is a distinct add-in."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, base_url + TASKPANE_PATH))


def render(base_url: str) -> dict[str, str | bytes]:
    """The manifest for a public https base URL: {file name: XML text}."""
    base_url = base_url.rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
        raise ValueError("the base URL must be https://host[:port] (Outlook loads add-ins "
                         "over https only)")
    local = parts.hostname in ("localhost", "127.0.0.1")
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    text = env.get_template("outlook-manifest.xml.j2").render(
        id=manifest_id(base_url),
        version=MANIFEST_VERSION,
        provider="addin-server",
        display_name="Campaigns (local)" if local else "Campaigns",
        description="Your sales campaign tasks in Outlook: write email tasks in the Outlook "
                    "compose window, see the campaigns of a sender and add people to one.",
        tooltip="Open your campaign tasks and the campaigns of the sender of this message.",
        base_url=base_url,
        taskpane_url=base_url + TASKPANE_PATH,
        icon=lambda size: f"{base_url}/outlook/static/icons/icon-{size}.png",
        mailbox_min=MAILBOX_MIN,
    )
    problems = check(text)
    if problems:  # the template itself is wrong: never write such a manifest
        raise ValueError("the rendered Outlook manifest breaks rules: " + "; ".join(problems))
    return {FILE_NAME: text}


# --- offline checks -------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _version_tuple(value: str) -> tuple[int, ...]:
    return tuple(int(x) for x in value.split(".") if x.isdigit())


def _check_order(parent: ET.Element, order: tuple[str, ...], where: str) -> list[str]:
    names = [_local(c.tag) for c in parent]
    unknown = [n for n in names if n not in order]
    if unknown:
        return [f"{where}: unexpected children {unknown}"]
    ranks = [order.index(n) for n in names]
    if ranks != sorted(ranks):
        return [f"{where}: children out of schema order: {names}"]
    return []


def _check_root(root: ET.Element) -> list[str]:
    problems = []
    if root.tag != f"{{{NS['o']}}}OfficeApp" or root.get(XSI_TYPE) != "MailApp":
        problems.append("root must be OfficeApp (appforoffice/1.1) with xsi:type MailApp")
    problems += _check_order(root, OFFICEAPP_ORDER, "OfficeApp")
    names = [_local(c.tag) for c in root]
    problems += [f"OfficeApp: {n} is required" for n in OFFICEAPP_REQUIRED if n not in names]
    value = {n: (root.findtext(f"o:{n}", namespaces=NS) or "").strip() for n in names}
    if not GUID.match(value.get("Id", "")):
        problems.append("Id must be a GUID")
    if not VERSION.match(value.get("Version", "")):
        problems.append("Version must be 1 to 4 dot-separated numbers of up to 5 digits")
    permission = value.get("Permissions", "")
    if permission not in PERMISSIONS or PERMISSIONS.index(permission) < 1:
        problems.append("Permissions must be ReadItem or more (displayNewMessageForm)")
    for name, limit in (("DisplayName", SHORT), ("Description", LONG)):
        node = root.find(f"o:{name}", NS)
        if node is not None and len(node.get("DefaultValue", "")) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    sets = root.findall("o:Requirements/o:Sets/o:Set", NS)
    mailbox = [s for s in sets if s.get("Name") == "Mailbox"]
    if not mailbox or _version_tuple(mailbox[0].get("MinVersion", "0")) < \
            _version_tuple(MAILBOX_MIN):
        problems.append(f"Requirements: Set Mailbox MinVersion must be at least {MAILBOX_MIN}")
    return problems


def _check_urls(root: ET.Element) -> list[str]:
    problems = []
    for node in root.iter():
        for attr, val in [*node.attrib.items(), ("text", node.text or "")]:
            val = val.strip()
            if attr in ("DefaultValue", "text") and val.lower().startswith(("http:", "https:")):
                if not val.startswith("https://"):
                    problems.append(f"{_local(node.tag)}: {val} is not https")
                if len(val) > URL_MAX:
                    problems.append(f"{_local(node.tag)}: URL longer than {URL_MAX}")
    return problems


def _check_overrides(vo: ET.Element, ns: str, where: str) -> list[str]:
    problems = _check_order(vo, OVERRIDES_ORDER, where)
    q = {"v": ns, "bt": NS["bt"]}
    sets = vo.find("v:Requirements/bt:Sets", q)
    if sets is None or _version_tuple(sets.get("DefaultMinVersion", "0")) < \
            _version_tuple(MAILBOX_MIN) or not any(
            s.get("Name") == "Mailbox" for s in sets.findall("bt:Set", q)):
        problems.append(f"{where}: bt:Sets must require Mailbox {MAILBOX_MIN} or later")
    resources: dict[str, str] = {}
    for group, item in RESOURCE_KIND.items():
        for node in vo.findall(f"v:Resources/bt:{group}/bt:{item}", q):
            resources[node.get("id", "")] = group
            limit = {"ShortStrings": SHORT, "LongStrings": LONG}.get(group, URL_MAX)
            if len(node.get("DefaultValue", "")) > limit:
                problems.append(f"{where}: resource {node.get('id')} is longer than {limit}")
    expect = {"Image": "Images", "SourceLocation": "Urls", "Label": "ShortStrings",
              "Title": "ShortStrings", "Description": "LongStrings", "FunctionFile": "Urls"}
    hosts = vo.find("v:Hosts", q)
    for node in (hosts.iter() if hosts is not None else []):
        resid = node.get("resid")
        if resid is None:
            continue
        want = expect.get(_local(node.tag))
        if resources.get(resid) != want:
            problems.append(f"{where}: resid {resid!r} on {_local(node.tag)} is not defined "
                            f"in {want}")
    for control in vo.iterfind(".//v:Control", q):
        sizes = {i.get("size") for i in control.findall("v:Icon/bt:Image", q)}
        if not {"16", "32", "80"} <= sizes:
            problems.append(f"{where}: button {control.get('id')} needs icons 16, 32 and 80")
    return problems


def check(xml_text: str) -> list[str]:
    """Every rule the manifest breaks (empty when it is fine)."""
    try:
        root = ET.fromstring(xml_text.encode())
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    problems = _check_root(root) + _check_urls(root)
    outer = root.find(f"{{{NS['vo10']}}}VersionOverrides")
    if outer is None:
        return [*problems, "VersionOverrides 1.0 is missing"]
    if outer.get(XSI_TYPE) != "VersionOverridesV1_0":
        problems.append("outer VersionOverrides must be VersionOverridesV1_0")
    problems += _check_overrides(outer, NS["vo10"], "VersionOverrides 1.0")
    inner = list(outer)[-1] if len(outer) else None
    if inner is None or inner.tag != f"{{{NS['vo11']}}}VersionOverrides" or \
            inner.get(XSI_TYPE) != "VersionOverridesV1_1":
        return [*problems, "VersionOverrides 1.1 must be the last child of VersionOverrides 1.0"]
    problems += _check_overrides(inner, NS["vo11"], "VersionOverrides 1.1")
    q = {"v": NS["vo11"]}
    surfaces = {e.get(XSI_TYPE) for e in inner.iterfind(".//v:ExtensionPoint", q)}
    for surface in ("MessageReadCommandSurface", "MessageComposeCommandSurface"):
        if surface not in surfaces:
            problems.append(f"VersionOverrides 1.1: no button on {surface}")
    read = inner.find(".//v:ExtensionPoint[@xsi:type='MessageReadCommandSurface']",
                      {**q, "xsi": NS["xsi"]})
    pins = [] if read is None else [a.findtext("v:SupportsPinning", namespaces=q)
                                    for a in read.iterfind(".//v:Action", q)]
    if not pins or any(p != "true" for p in pins):
        problems.append("VersionOverrides 1.1: the read task pane button must be pinnable")
    return problems
