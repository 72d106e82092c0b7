"""The runtime of a worker process: the one every RQ job of this process runs with.

RQ imports a job's function by its dotted path and calls it with the job's arguments only, so
the entry points in this package ask `worker_runtime()` for settings, the database and the
clock. The `worker` command (and tests, with their frozen clock) install theirs first; a bare
`rq worker` makes one from the environment on first use.
"""

from __future__ import annotations

import os

from addin_server.config import Settings
from addin_server.runtime import Runtime

_installed: tuple[int, Runtime] | None = None


def install_runtime(runtime: Runtime) -> None:
    """Use this runtime for jobs run in this process (the worker command and tests)."""
    global _installed
    _installed = (os.getpid(), runtime)


def worker_runtime() -> Runtime:
    """The process's runtime, made from the environment on first use. After a fork (RQ's
    forking worker) the pooled connections belong to the parent: drop them without closing."""
    global _installed
    if _installed is None:
        _installed = (os.getpid(), Runtime.from_settings(Settings.from_env()))
    pid, runtime = _installed
    if pid != os.getpid():
        runtime.engine.dispose(close=False)
        _installed = (os.getpid(), runtime)
    return runtime
