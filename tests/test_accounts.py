"""Linking an external identity to a rep (accounts.rep_for_identity): the one rule behind web
sign-in, the Outlook pane and the Gmail add-on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from addin_server.accounts import create_rep, rep_for_identity

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_google_links_on_first_sign_in_then_by_subject_only(session: Session) -> None:
    ann = create_rep(session, email="ann@acme.test", org_name="Acme", now=NOW)
    assert rep_for_identity(session, "google", "g-1", "Ann@Acme.test") is ann
    assert ann.google_sub == "g-1"
    # the subject, not the address, finds her now
    assert rep_for_identity(session, "google", "g-1", "renamed@acme.test") is ann
    # another Google account with her address is refused and changes nothing
    assert rep_for_identity(session, "google", "g-2", "ann@acme.test") is None
    assert ann.google_sub == "g-1"


def test_microsoft_links_oid_and_tenant_together(session: Session) -> None:
    bob = create_rep(session, email="bob@contoso.test", org_name="Contoso", now=NOW)
    assert rep_for_identity(session, "microsoft", "oid-1", "bob@contoso.test",
                            tenant="t-1") is bob
    assert (bob.ms_oid, bob.ms_tid) == ("oid-1", "t-1")
    assert rep_for_identity(session, "microsoft", "oid-1", "", tenant="t-1") is bob
    # the same oid in another tenant is another account
    assert rep_for_identity(session, "microsoft", "oid-1", "bob@contoso.test",
                            tenant="t-2") is None


def test_no_rep_is_created(session: Session) -> None:
    assert rep_for_identity(session, "google", "g-9", "nobody@acme.test") is None
    assert rep_for_identity(session, "microsoft", "oid-9", "", tenant="t-1") is None
