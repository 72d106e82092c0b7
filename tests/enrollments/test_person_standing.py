"""The person page's one line on why they were stopped or held (issue 18 point 6): a pure
function of the person and their enrollments, the strongest reason first."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from addin_server.enrollments.person import EnrollmentFacts, standing
from addin_server.enums import EnrollmentStatus as S
from addin_server.models import Person

PARIS = ZoneInfo("Europe/Paris")
MAR3 = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
MAR10 = datetime(2027, 3, 9, 23, 0, tzinfo=UTC)  # midnight on 10 March in Paris


def person(**kw: object) -> Person:
    return Person(email="bob@acme.test", company=kw.pop("company", "Acme"), **kw)


def e(status: S, name: str = "Q4", reason: str = "", until: datetime | None = None,
      at: datetime = MAR3, replied: datetime | None = None) -> EnrollmentFacts:
    return EnrollmentFacts(campaign_name=name, status=status, stop_reason=reason,
                           paused_until=until, updated_at=at, replied_at=replied)


@pytest.mark.parametrize(("enrollments", "ooo_in", "expected"), [
    ([e(S.REPLIED, reason="replied (bob@acme.test)", replied=MAR3)], None,
     "Stopped: replied on Wed, 3 Mar 2027 (in campaign 'Q4')"),
    ([e(S.PAUSED, "Q4", until=MAR10), e(S.PAUSED, "Intro", until=MAR10)], "Intro",
     "Held: out of office until Wed, 10 Mar 2027 (seen in campaign 'Intro')"),
    ([e(S.STOPPED, reason="a colleague (ann@acme.test) replied in campaign 'Q4'")], None,
     "Stopped: a colleague at Acme replied (ann@acme.test) on Wed, 3 Mar 2027"),
    ([e(S.STOPPED, reason="stopped by the rep")], None,
     "Stopped by hand on Wed, 3 Mar 2027 (in campaign 'Q4')"),
    ([e(S.PAUSED, reason="held for review: one of a burst of bounces from gmail.com")], None,
     "Held for review: one of a burst of bounces from gmail.com (campaign 'Q4')"),
    ([e(S.PAUSED)], None, "Held: paused by hand in campaign 'Q4'"),
    ([e(S.ACTIVE), e(S.REPLIED, "Old")], None, "Active in campaign 'Q4'"),
    ([e(S.FINISHED)], None, "Finished every step of campaign 'Q4' on Wed, 3 Mar 2027"),
    ([], None, "Not in any campaign"),
])
def test_one_line(enrollments: list[EnrollmentFacts], ooo_in: str | None, expected: str
                  ) -> None:
    assert standing(person(), enrollments, PARIS, ooo_in).text == expected


def test_the_latest_end_is_the_one_said() -> None:
    older = e(S.STOPPED, "A", reason="stopped by the rep", at=datetime(2027, 1, 5, tzinfo=UTC))
    newer = e(S.REPLIED, "B", replied=MAR3)
    assert standing(person(), [newer, older], PARIS).text == (
        "Stopped: replied on Wed, 3 Mar 2027 (in campaign 'B')")


def test_unsubscribed_and_bounced_outrank_everything() -> None:
    held = [e(S.PAUSED, until=MAR10)]
    assert standing(person(unsubscribed_at=MAR3), held, PARIS).text == (
        "Stopped: unsubscribed on Wed, 3 Mar 2027")
    assert standing(person(bounced_at=MAR3), held, PARIS).text == (
        "Stopped: email to bob@acme.test bounced on Wed, 3 Mar 2027")


def test_a_colleague_without_a_company_is_named_by_domain() -> None:
    line = standing(person(company=""), [
        e(S.STOPPED, reason="a colleague (ann@acme.test) replied in campaign 'Q4'")], PARIS)
    assert line.text.startswith("Stopped: a colleague at acme.test replied")
    assert line.state == "stopped"
