"""The checks the send job makes right before an automatic send, outside its claim:

1. the address is not unsubscribed, suppressed, at a blocked domain or bounced (checked again
   at send time: the list may have changed since launch); if it is, the person's enrollment
   ends with that reason and its pending send is cancelled;
2. a fresh look at the person's threads in the mailbox (inbox.fresh_reply_check): a reply, a
   bounce or an out-of-office that arrived since the last poll is applied now.
Either returns the reason the send must not go; the job then leaves the row to its new state.
"""

from __future__ import annotations

from addin_server import enrollments
from addin_server.db import session_scope
from addin_server.enums import EnrollmentStatus, SendState
from addin_server.models import Enrollment, Person, Send
from addin_server.outbox import DUE_STATES
from addin_server.runtime import Runtime
from addin_server.suppressions import BOUNCED, UNSUBSCRIBED, send_blocker

_STATUS = {UNSUBSCRIBED: EnrollmentStatus.UNSUBSCRIBED, BOUNCED: EnrollmentStatus.BOUNCED}


def check(rt: Runtime, send_id: int) -> str | None:
    with session_scope(rt.sessions) as session:
        send = session.get(Send, send_id)
        if send is None or send.state not in DUE_STATES or send.mailbox_id is None:
            return None  # the claim decides
        enrollment = session.get(Enrollment, send.enrollment_id)
        person = session.get(Person, enrollment.person_id) if enrollment else None
        if enrollment is None or person is None:
            return None
        if send.task_id is None:  # an email the rep wrote and sent by hand is theirs to send
            blocked = send_blocker(session, enrollment.org_id, person.email)
            if blocked:
                reason = f"{blocked}: not sent"
                enrollments.end(session, enrollment, rt.now(),
                                status=_STATUS.get(blocked, EnrollmentStatus.STOPPED),
                                reason=reason)
                if send.state in DUE_STATES:  # end() cancels only pending rows: be sure
                    send.state, send.reason = SendState.CANCELLED, reason
                return reason
        enrollment_id, mailbox_id = enrollment.id, send.mailbox_id
    from addin_server.inbox import fresh_reply_check

    return fresh_reply_check(rt, enrollment_id, mailbox_id)
