"""The Gmail add-on's request plumbing: every POST verified as Google's (the system ID token
Google signs for our URL), the rep identified from the event's user token, and each handler
registered on a blueprint so that an unknown rep gets the connect card and a failure a readable
message. routes.py and message.py declare their endpoints with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from addin_server.accounts import rep_for_identity
from addin_server.addins.gmail import views as gmail_views
from addin_server.addins.gmail.tokens import (
    CertificatesUnavailable,
    GoogleTokenVerifier,
    GoogleUser,
    InvalidToken,
)
from addin_server.models import Rep
from addin_server.runtime import runtime
from addin_server.web.common import bearer_token, db
from gmail_addon import notices, responses
from gmail_addon.endpoints import PATHS, PREFIX, Endpoints
from gmail_addon.events import AddonEvent, parse_event
from gmail_addon.widgets import Json

log = logging.getLogger(__name__)

Handler = Callable[[Rep, AddonEvent], Json]


def addon_base_url() -> str:
    """The base of the add-on's URLs as Google calls them (and signs them as audience)."""
    s = runtime().settings
    return (s.gmail_addon_audience or s.public_base_url).rstrip("/")


def endpoints() -> Endpoints:
    return Endpoints(addon_base_url())


def verifier() -> GoogleTokenVerifier:
    v = current_app.extensions["gmail_verifier"]
    assert isinstance(v, GoogleTokenVerifier)
    return v


def _audience() -> str:
    # The URL Google called, as the public configuration spells it: behind a proxy Flask sees
    # an internal host and scheme, and `request.full_path` ends with "?" without a query.
    query = request.query_string.decode("latin-1")
    return addon_base_url() + request.path + (f"?{query}" if query else "")


def _unauthorized(message: str) -> ResponseReturnValue:
    g.rollback = True
    return jsonify({"errors": [{"field": "Authorization", "message": message}]}), 401


def _verify_google() -> ResponseReturnValue | None:
    if request.method != "POST":
        return None
    token = bearer_token()
    if not token:
        return _unauthorized("a Google ID token is required")
    settings = runtime().settings
    try:
        verifier().verify_system_token(token, audience=_audience(),
                                       service_account=settings.gmail_addon_service_account)
    except InvalidToken as exc:
        log.info("gmail add-on request refused: %s", exc)
        return _unauthorized("the Google ID token is not valid for this add-on")
    except CertificatesUnavailable:
        log.warning("Google certificates unavailable")
        g.rollback = True
        return jsonify({"errors": [{"field": "", "message": "try again shortly"}]}), 503
    g.event = parse_event(request.get_json(silent=True))
    return None


def addon_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of add-on endpoints under /gmail: every POST is verified as Google's first."""
    blueprint = Blueprint(name, import_name, url_prefix=PREFIX)
    blueprint.before_request(_verify_google)
    return blueprint


def _current_user(event: AddonEvent) -> GoogleUser | None:
    try:
        return verifier().verify_user_token(
            event.user_id_token, client_id=runtime().settings.gmail_addon_oauth_client_id)
    except (InvalidToken, CertificatesUnavailable) as exc:
        log.info("gmail add-on user token refused: %s", exc)
        return None


def addon_endpoint(
    blueprint: Blueprint, name: str, *, trigger: bool
) -> Callable[[Handler], Handler]:
    """Add a handler to the blueprint: verified rep in, response out. An unknown or
    unconnected rep gets the connect card; an unexpected failure gets a readable message,
    never a stack trace."""

    def register(handler: Handler) -> Handler:
        def view() -> ResponseReturnValue:
            event: AddonEvent = g.event
            user = _current_user(event)
            # tokens.py refuses a user token without email_verified: the address is verified.
            rep = (rep_for_identity(db(), "google", user.sub, user.email, verified=True)
                   if user else None)
            problem = gmail_views.connection_problem(db(), rep) if rep else ""
            # What identification learnt (a newly bound Google account) is kept now: handlers
            # call Google, and no transaction is held across a network call.
            db().commit()
            if rep is None or problem:
                card = notices.connect_card(endpoints(), email=user.email if user else "",
                                            reason=problem)
                return jsonify(responses.show(card) if trigger else responses.replace_card(card))
            try:
                return jsonify(handler(rep, event))
            except Exception:
                log.exception("gmail add-on %s failed", name)
                g.rollback = True
                text = "Something went wrong on our side. Please try again."
                if trigger:
                    return jsonify(responses.show(notices.error_card("Sorry", text, endpoints())))
                return jsonify(responses.notify(text))

        blueprint.add_url_rule(PATHS[name], endpoint=name, view_func=view, methods=["POST"])
        return handler

    return register
