"""The Gmail add-on's deployment descriptor, one renderer of `addin-server render-manifests`."""

from __future__ import annotations

import json

from gmail_addon.deployment import deployment

FILE_NAME = "gmail-addon-deployment.json"


def render(base_url: str) -> dict[str, str | bytes]:
    """`gcloud workspace-add-ons deployments create NAME --deployment-file=<this file>`."""
    return {FILE_NAME: json.dumps(deployment(base_url), indent=2) + "\n"}
