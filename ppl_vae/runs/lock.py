"""One writer per run directory: an exclusive lock held for the life of any command that writes to it.

The lock is ``fcntl.flock`` on ``<run>/.ppl-vae.lock``: the kernel releases it when the
holding process ends, however it ends, so a lock left by a dead process is recovered by the
next writer without any guessing. The file records the holder (process id, host, start
time) so that a refused writer can say who holds it. Within one ``torchrun`` job only rank 0
writes, so only rank 0 takes the lock. Whoever takes the lock removes the temporary files that a writer
killed mid-write (``kill -9``) left behind (``ppl_vae.core.files``). On systems without ``fcntl``
(Windows) the lock is a no-op.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from pathlib import Path

from ppl_vae.core.errors import RunError
from ppl_vae.core.files import remove_stale_temporaries

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".ppl-vae.lock"


class RunLock:
    """Context manager: hold the run directory's lock, or raise :class:`RunError` naming its holder."""

    def __init__(self, run_dir: Path, command: str):
        self.path = Path(run_dir) / LOCK_FILE
        self.command = command
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise RunError(
                f"{self.path.parent} is in use by {holder}; wait for it to finish or choose another run directory"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
            "command": self.command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.fd = fd
        remove_stale_temporaries(self.path.parent)  # a writer killed mid-write left them; none is ours yet
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return f"'ppl-vae {info['command']}' (process {info['pid']} on {info['host']}, since {info['started']})"
        except (ValueError, KeyError, OSError):
            return "another process"

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
