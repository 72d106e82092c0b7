"""Real `addin-server worker` subprocesses for end-to-end tests: they share the test's
database, Redis and queue, and can be killed like a machine that dies (SIGKILL of the worker's
process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from addin_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a worker on the test's database, Redis, queue and keys."""
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name,
        "INSTANCE_PATH": settings.instance_path, "SECRET_KEY": settings.secret_key,
        "ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "PUBLIC_BASE_URL": settings.public_base_url, **extra,
    }


class Workers:
    """`addin-server worker` subprocesses, each in a session of its own (the worker and its
    scheduler process form one group, killed together)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            out = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "addin_server", "worker"], cwd=ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def kill(self, pid: int) -> None:
        """SIGKILL the worker's whole group, as a machine that dies, and reap it."""
        os.killpg(pid, signal.SIGKILL)
        next(p for p in self.procs if p.pid == pid).wait(10)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # its scheduler process, if left
