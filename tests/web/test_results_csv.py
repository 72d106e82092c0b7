"""The results page's "Download CSV" button, followed as a browser follows a link (its Accept
header prefers HTML, then anything): it must download the CSV, not show the report's JSON."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from addin_server.runtime import Runtime
from tests.conftest import Actor, FrozenClock
from tests.support.sending import cycle, email_step, launch, make_campaign
from tests.web.test_pages import sign_in_as

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_the_download_csv_button_downloads_a_csv_with_the_pages_filters(
        rep: Actor, runtime: Runtime, client: FlaskClient, clock: FrozenClock) -> None:
    cid = make_campaign(rep, [email_step(1, send_time="09:00"), email_step(3)])
    launch(rep, cid, [{"email": "bob@globex.test", "first_name": "Bob"}])
    clock.advance(minutes=1)
    cycle(runtime)
    sign_in_as(client, rep)
    page = client.get(f"/campaigns/{cid}/results?from=2020-01-01").get_data(as_text=True)
    match = re.search(r'<a class="btn" href="([^"]+)" data-csv>Download CSV</a>', page)
    assert match is not None
    href = match.group(1).replace("&amp;", "&")
    assert "from=2020-01-01" in href  # the page's filters go with it
    got = client.get(href, headers={"Accept": BROWSER_ACCEPT})
    assert got.status_code == 200
    assert got.mimetype == "text/csv"
    assert got.headers["Content-Disposition"] == f'attachment; filename="campaign-{cid}-report.csv"'
    lines = got.get_data(as_text=True).splitlines()
    assert lines[0].startswith("position,type,day,sent,")
    assert lines[1].startswith("1,email,1,1,")  # step 1 sent to Bob
    assert len(lines) == 3
