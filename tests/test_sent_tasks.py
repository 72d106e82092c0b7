"""Matching the rep's Sent items to open email tasks (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from addin_server.sent_tasks import OpenEmailTask, SentSummary, match_sent, normalise_subject

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def task(task_id: int, to: str = "jane@client.test", subject: str | None = "Hello Jane",
         thread: str | None = None, since: datetime = T0) -> OpenEmailTask:
    return OpenEmailTask(task_id=task_id, to=to, subject=subject, draft_thread_id=thread,
                         since=since)


def sent(mid: str, *, to: tuple[str, ...] = ("jane@client.test",), subject: str = "Hello Jane",
         thread: str = "t-other", minutes: int = 10, header: str = "") -> SentSummary:
    return SentSummary(message_id=mid, thread_id=thread, to=to, subject=subject,
                       sent_at=T0 + timedelta(minutes=minutes), send_id_header=header)


def test_subject_normalisation() -> None:
    assert normalise_subject("RE: Fwd:  Hello   Jane ") == "hello jane"
    assert normalise_subject("Re:Re: hello jane") == "hello jane"
    assert normalise_subject("Hello Jane!") != normalise_subject("Hello Jane")


def test_header_beats_thread_beats_subject() -> None:
    tasks = [task(1, thread="t1"), task(2, to="bob@client.test", subject="Hi Bob"),
             task(3, to="cy@client.test", subject="About Cy")]
    found = match_sent(tasks, [
        sent("m-subject", to=("cy@client.test",), subject="Re: about cy"),
        sent("m-thread", thread="t1", subject="edited by the rep"),
        sent("m-header", to=("bob@client.test",), subject="whatever", header="task-2"),
    ])
    assert {k: v.message_id for k, v in found.items()} == {
        1: "m-thread", 2: "m-header", 3: "m-subject"}


def test_no_match_on_another_recipient_an_earlier_message_or_another_subject() -> None:
    tasks = [task(1, thread="t1")]
    assert match_sent(tasks, [
        sent("a", to=("someone@else.test",), thread="t1"),  # the thread, but not to Jane
        sent("b", minutes=-5),  # sent before the task existed
        sent("c", subject="Lunch?"),  # to Jane, another subject
    ]) == {}


def test_each_message_completes_one_task_and_the_oldest_wins() -> None:
    tasks = [task(1), task(2)]  # two tasks for Jane with the same subject (two campaigns)
    found = match_sent(tasks, [sent("late", minutes=30), sent("early", minutes=5)])
    assert {k: v.message_id for k, v in found.items()} == {1: "early", 2: "late"}
    only_one = match_sent(tasks, [sent("one")])
    assert list(only_one) == [1]


def test_a_task_whose_subject_cannot_be_rendered_matches_by_thread_only() -> None:
    tasks = [task(1, subject=None)]
    assert match_sent(tasks, [sent("x")]) == {}
    assert match_sent([task(1, subject=None, thread="t9")],
                      [sent("y", thread="t9")])[1].message_id == "y"
