"""The pass of the dispatcher process (`addin-server dispatch`): the periodic duties that are
due (workers/duties.py), then the send pipeline's pass (sending/dispatcher.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from addin_server.runtime import Runtime
from addin_server.sending import dispatcher as sending
from addin_server.sending.dispatcher import TickResult
from addin_server.workers.duties import DUTIES, Duty, run_all


def tick(rt: Runtime, now: datetime | None = None) -> TickResult:
    """One full pass: every duty, then the send pipeline's tick with its housekeeping."""
    now = now or rt.now()
    run_all(rt, now)
    return sending.tick(rt, now)


@dataclass
class Dispatcher:
    """The passes of the dispatcher process. Each duty runs at most every `every_seconds`; the
    send pipeline's own passes keep their schedule (sending.dispatcher.Dispatcher)."""

    rt: Runtime
    duties: tuple[Duty, ...] = DUTIES
    send: sending.Dispatcher = field(init=False)
    _last: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.send = sending.Dispatcher(self.rt)

    def run_pass(self, now: datetime | None = None) -> TickResult:
        now = now or self.rt.now()
        clock = time.monotonic()
        for duty in self.duties:
            if clock - self._last.get(duty.name, float("-inf")) >= duty.every_seconds:
                self._last[duty.name] = clock
                duty.run(self.rt, now)
        return self.send.run_pass(now)
