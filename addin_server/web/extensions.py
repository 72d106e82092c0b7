"""Blueprints added by the other parts of the product register here, one line each."""

from __future__ import annotations

from flask import Flask

from addin_server.web import salesforce as crm_web


def register_all(app: Flask) -> None:
    """Each part adds its own register call below."""
    from addin_server.addins.outlook import routes as outlook

    outlook.register(app)
    from addin_server.web import connect_mailbox as oauth

    oauth.register(app)  # connect Gmail / Microsoft 365 mailboxes
    from addin_server.web import pages  # the web app (sign-in, CSRF, pages)

    pages.init_app(app)
    app.register_blueprint(crm_web.crm)
    from addin_server.web import unsubscribe
    from addin_server.web import webhooks as push

    unsubscribe.register(app)
    push.register(app)
    from addin_server.addins.gmail.routes import register_gmail

    register_gmail(app)
