"""REST API of the organisation's settings (admins only): default time zone, working days,
holiday countries and stop rules that new campaigns start from, who may launch people on a
colleague's campaign, and the organisation's own domains (sign-in and colleague checks)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from addin_server.accounts import email_domain, org_domains, set_org_domains
from addin_server.api.body import checked_body
from addin_server.api.common import api_blueprint, current_rep, require_admin
from addin_server.api.openapi import requests as bodies
from addin_server.campaigns.org_settings import org_settings, parse_patch
from addin_server.models import Organisation
from addin_server.validation import Errors, parse_domain

bp = api_blueprint("api_organisation", __name__)


def organisation_json(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, **org_settings(org.settings),
            "domains": sorted(org_domains(org))}


@bp.get("/organisation")
def get_organisation() -> ResponseReturnValue:
    require_admin()
    return jsonify(organisation_json(current_rep().org))


@bp.patch("/organisation")
def patch_organisation() -> ResponseReturnValue:
    require_admin()
    data = checked_body(bodies.OrganisationPatch)
    rep = current_rep()
    org = rep.org
    errors = Errors()
    settings = parse_patch(data, errors, org.settings)
    domains = None
    if data.get("domains") is not None:  # null: unchanged (there is always one)
        domains = [d for i, value in enumerate(data["domains"])
                   if (d := parse_domain(value, f"domains[{i}]", errors)) is not None]
        own = email_domain(rep.email)
        if not errors and own not in domains:
            # Sign-in accepts only these domains: dropping the admin's own would lock them out.
            errors.add("domains", f"must keep {own}, the domain of your own address (else "
                       "you could no longer sign in)")
    errors.raise_if_any()
    org.settings = settings
    if domains is not None:
        set_org_domains(org, domains)
    return jsonify(organisation_json(org))
