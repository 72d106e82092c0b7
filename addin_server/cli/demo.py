"""Sample work for the demo rep, for local development (`scripts/run`, DEV_MODE=1).

`addin-server seed-demo` gives the demo rep (accounts.demo_rep, also the web app's one-click
development sign-in) a template, two campaigns and a few people, once.
"""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from addin_server.accounts import demo_rep
from addin_server.campaigns.definition import parse_campaign
from addin_server.campaigns.service import create_campaign
from addin_server.config import Settings
from addin_server.db import session_scope
from addin_server.enrollments.launch import LaunchOptions, launch
from addin_server.enrollments.people import PersonInput
from addin_server.models import Campaign, Template
from addin_server.runtime import runtime

PEOPLE = (
    ("mia@vandelay.example", "Mia", "Lopez", "Vandelay Industries", "VP Sales"),
    ("noah@piedpiper.example", "Noah", "Kim", "Pied Piper", "Head of Growth"),
    ("zoe@initech.example", "Zoe", "Martin", "Initech", "Sales Director"),
    ("liam@globex.example", "Liam", "Chen", "Globex", "CRO"),
    ("ava@umbrella.example", "Ava", "Diaz", "Umbrella", "RevOps Lead"),
)


def _email(day: int, option: str, subject: str, body: str, **kw: object) -> dict[str, object]:
    return {"day": day, "type": "email", "send_option": option, "subject": subject,
            "body_html": body, **kw}


def seed(session: Session, settings: Settings, now: datetime) -> bool:
    """Sample work for the demo rep; False (nothing done) when they have campaigns already."""
    rep = demo_rep(session, settings, now)
    if session.scalar(select(Campaign.id).where(Campaign.rep_id == rep.id).limit(1)):
        return False
    session.add(Template(org_id=rep.org_id, rep_id=rep.id, name="Short intro",
                         subject="{{company}} and outbound",
                         body_html="<p>Hi {{first_name}},</p><p>Teams like {{company}} use us "
                                   "to run outbound from their own mailboxes. Worth a look?</p>"
                                   "<p>{{sender_name}}</p>",
                         created_at=now, updated_at=now))
    intro = create_campaign(session, rep, parse_campaign({
        "name": "Outbound, VP Sales", "timezone": rep.timezone,
        "steps": [
            _email(1, "fixed_time", "Quick question, {{first_name}}",
                   "<p>Hi {{first_name | default: \"there\"}}, are you the right person for "
                   "outbound at {{company}}?</p>", send_time="09:30"),
            _email(3, "same_time_as_previous", "",
                   "<p>Bumping this up, {{first_name}}.</p>", reply_to_previous=True),
            {"day": 4, "type": "call", "instructions": "Call about the intro email"},
            _email(6, "manual_task", "An idea for {{company}}",
                   "<p>{{! one line about their team }}</p><p>Worth a chat?</p>"),
            {"day": 8, "type": "linkedin", "instructions": "Connect with a short note"},
        ],
    }, default_timezone=rep.timezone), now)
    personal = create_campaign(session, rep, parse_campaign({
        "name": "Hand-written intro", "timezone": rep.timezone,
        "steps": [
            _email(1, "manual_task", "Quick question, {{first_name}}",
                   "<p>Hi {{first_name}}, {{! one line about their team }}</p>"),
            {"day": 2, "type": "call", "instructions": "Follow up by phone"},
        ],
    }, default_timezone=rep.timezone), now)
    people = [PersonInput(email=e, first_name=f, last_name=la, company=c, title=t)
              for e, f, la, c, t in PEOPLE]
    launch(session, rep, intro, people[:3], LaunchOptions(), now)
    launch(session, rep, personal, people[2:], LaunchOptions(), now)
    return True


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Give the demo rep sample campaigns and people (local development only, once)."""
    rt = runtime()
    if not rt.settings.dev_mode:
        raise click.ClickException("seed-demo runs only with DEV_MODE=1 (local development)")
    with session_scope(rt.sessions) as session:
        made = seed(session, rt.settings, rt.now())
    click.echo(f"demo data {'created' if made else 'already there'} for "
               f"{rt.settings.demo_rep_email}")
