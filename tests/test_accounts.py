"""Linking an external identity to a rep (accounts.rep_for_identity): the one rule behind web
sign-in, the Outlook pane and the Gmail add-on. Fail closed: an allowed Microsoft tenant, a
verified address at a domain of the organisation, never overwriting a link."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from addin_server.accounts import create_rep, rep_for_identity, set_org_domains

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TENANTS = ("t-1", "t-2")


def google(session: Session, sub: str, email: str, verified: bool = True) -> object:
    return rep_for_identity(session, "google", sub, email, verified=verified)


def microsoft(session: Session, oid: str, email: str, tenant: str, verified: bool = True,
              allowed: tuple[str, ...] = TENANTS) -> object:
    return rep_for_identity(session, "microsoft", oid, email, verified=verified,
                            tenant=tenant, allowed_tenants=allowed)


def test_google_links_on_first_sign_in_then_by_subject_only(session: Session) -> None:
    ann = create_rep(session, email="ann@acme.test", org_name="Acme", now=NOW)
    assert google(session, "g-1", "Ann@Acme.test") is ann
    assert ann.google_sub == "g-1"
    # the subject, not the address, finds her now
    assert google(session, "g-1", "renamed@acme.test") is ann
    # another Google account with her address is refused and changes nothing
    assert google(session, "g-2", "ann@acme.test") is None
    assert ann.google_sub == "g-1"


def test_google_needs_a_verified_address_at_a_domain_of_the_organisation(
        session: Session) -> None:
    ann = create_rep(session, email="ann@acme.test", org_name="Acme", now=NOW)
    cat = create_rep(session, email="cat@gmail.test", org_name="Acme", now=NOW)
    assert google(session, "g-1", "ann@acme.test", verified=False) is None
    assert ann.google_sub is None
    # cat's address is not at a domain Acme owns (acme.test, from its first rep)
    assert google(session, "g-3", "cat@gmail.test") is None and cat.google_sub is None
    set_org_domains(cat.org, ["acme.test", "gmail.test"])
    assert google(session, "g-3", "cat@gmail.test") is cat
    # the same rule for an existing link: unverified, or moved out of the org's domains
    assert google(session, "g-3", "cat@gmail.test", verified=False) is None
    assert google(session, "g-3", "cat@elsewhere.test") is None


def test_microsoft_links_oid_and_tenant_together(session: Session) -> None:
    bob = create_rep(session, email="bob@contoso.test", org_name="Contoso", now=NOW)
    assert microsoft(session, "oid-1", "bob@contoso.test", "t-1") is bob
    assert (bob.ms_oid, bob.ms_tid) == ("oid-1", "t-1")
    assert microsoft(session, "oid-1", "", "t-1", verified=False) is bob
    # the same oid in another tenant is another account, and never overwrites the link
    assert microsoft(session, "oid-1", "bob@contoso.test", "t-2") is None
    assert (bob.ms_oid, bob.ms_tid) == ("oid-1", "t-1")


def test_microsoft_fails_closed(session: Session) -> None:
    bob = create_rep(session, email="bob@contoso.test", org_name="Contoso", now=NOW)
    # no tenant allowed: nobody, whatever the token says
    assert microsoft(session, "oid-1", "bob@contoso.test", "t-1", allowed=()) is None
    # a tenant not allowed
    assert microsoft(session, "oid-1", "bob@contoso.test", "evil") is None
    # an unverified address (no xms_edov) links nobody
    assert microsoft(session, "oid-1", "bob@contoso.test", "t-1", verified=False) is None
    assert bob.ms_oid is None
    assert microsoft(session, "oid-1", "bob@contoso.test", "t-1") is bob
    # a linked rep from a tenant no longer allowed is refused too
    assert microsoft(session, "oid-1", "", "t-1", allowed=("t-2",)) is None


def test_no_rep_is_created(session: Session) -> None:
    assert google(session, "g-9", "nobody@acme.test") is None
    assert microsoft(session, "oid-9", "", "t-1") is None
