"""The Workspace add-on deployment descriptor (`gcloud workspace-add-ons deployments create
NAME --deployment-file=...`), rendered from the public base URL. Field names follow the
`google.cloud.gsuiteaddons.v1.Deployment` proto, which the tests parse it with (HTTP add-ons
say `composeTrigger.actions`, not Apps Script's `selectActions`; `label` in common universal
actions)."""

from __future__ import annotations

from gmail_addon.endpoints import Endpoints
from gmail_addon.widgets import Json

SCOPES = (
    # Run as a Gmail add-on at all.
    "https://www.googleapis.com/auth/gmail.addons.execute",
    # Read the open message's From/To/Cc (contextual card) and the draft's recipients.
    "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
    # Create drafts (Write) and edit the draft being composed (insert a template).
    "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
    # userIdToken carries the rep's address: that is how we know who clicked.
    "https://www.googleapis.com/auth/userinfo.email",
    # The rep's time zone and locale in commonEventObject.
    "https://www.googleapis.com/auth/script.locale",
)

ADDON_NAME = "Campaign Tasks"


def deployment(base_url: str, *, name: str = ADDON_NAME) -> Json:
    if not base_url.startswith("https://"):
        raise ValueError("Google calls add-on endpoints over HTTPS only: the public base URL "
                         f"must start with https:// (got {base_url!r})")
    e = Endpoints(base_url.rstrip("/"))
    return {
        "oauthScopes": list(SCOPES),
        "addOns": {
            "common": {
                "name": name,
                "logoUrl": e.logo,
                "layoutProperties": {"primaryColor": "#1a73e8"},
                "useLocaleFromApp": True,
                "homepageTrigger": {"runFunction": e.url("homepage"), "enabled": True},
                "universalActions": [
                    {"label": "My tasks", "runFunction": e.url("homepage")},
                    {"label": "Open the web app", "openLink": e.web_app},
                ],
                "openLinkUrlPrefixes": [e.web_app],
            },
            "gmail": {
                "contextualTriggers": [
                    {"unconditional": {}, "onTriggerFunction": e.url("contextual")},
                ],
                "composeTrigger": {
                    "actions": [{"label": "Insert a template", "runFunction": e.url("compose"),
                                 "logoUrl": e.logo}],
                    # Puts the draft's recipients into the event: templates are rendered for
                    # the person being written to.
                    "draftAccess": "METADATA",
                },
            },
            "httpOptions": {"authorizationHeader": "SYSTEM_ID_TOKEN"},
        },
    }
