"""The add-on's endpoint URLs, all under one public base URL.

Google calls each trigger and button by its full HTTPS URL, and signs the request with that
URL as the token audience: the same table serves the deployment file, the cards' actions and
the audience check.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "/gmail"

PATHS = {
    "homepage": "/homepage",
    "contextual": "/contextual",
    "compose": "/compose",
    "page": "/tasks/page",
    "write": "/tasks/write",
    "done": "/tasks/done",
    "skip": "/tasks/skip",
    "campaign_form": "/people/campaign",
    "add_person": "/people/add",
    "pause": "/enrollments/pause",
    "resume": "/enrollments/resume",
    "stop": "/enrollments/stop",
    "held": "/sends/held",
    "release": "/sends/release",
    "skip_send": "/sends/skip",
    "insert_template": "/compose/insert",
}


@dataclass(frozen=True)
class Endpoints:
    base: str  # public base URL, no trailing slash

    def url(self, name: str) -> str:
        return f"{self.base}{PREFIX}{PATHS[name]}"

    @property
    def logo(self) -> str:
        return f"{self.base}{PREFIX}/logo.png"

    @property
    def web_app(self) -> str:
        return f"{self.base}/"

    @property
    def mailboxes(self) -> str:
        """The web app's Mailboxes page (addin_server/web: `GET /mailboxes`)."""
        return f"{self.base}/mailboxes"

    def all(self) -> set[str]:
        return {self.url(name) for name in PATHS}
