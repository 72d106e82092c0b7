"""web/oauth_state.py: the one OAuth state scheme (sign-in, connect a mailbox, connect
Salesforce), against the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, session

from addin_server.web import oauth_state
from addin_server.web.oauth_state import StateRefused


@pytest.fixture
def request_ctx(app: Flask) -> Iterator[None]:
    with app.test_request_context("/"):
        yield


def test_a_state_is_taken_once_for_its_purpose(request_ctx: None) -> None:
    issued = oauth_state.issue()
    oauth_state.keep("connect-google", issued, {"rep_id": 7}, in_browser=False)
    with pytest.raises(StateRefused, match="unknown"):
        oauth_state.take("connect-microsoft", issued.state)  # another purpose
    taken = oauth_state.take("connect-google", issued.state)
    assert (taken.data, taken.verifier, taken.in_browser) == ({"rep_id": 7}, issued.verifier,
                                                               False)
    with pytest.raises(StateRefused, match="already used"):
        oauth_state.take("connect-google", issued.state)
    with pytest.raises(StateRefused, match="no state"):
        oauth_state.take("connect-google", "")


def test_a_browser_flow_needs_its_session_and_keeps_no_secret_in_it(request_ctx: None) -> None:
    issued = oauth_state.issue()
    oauth_state.keep("signin-google", issued, {"next": "/"}, in_browser=True)
    assert issued.verifier not in str(dict(session))
    session.clear()  # another browser
    with pytest.raises(StateRefused, match="another browser"):
        oauth_state.take("signin-google", issued.state)


def test_the_verifier_fits_pkce() -> None:
    verifier = oauth_state.issue().verifier
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-._~")
