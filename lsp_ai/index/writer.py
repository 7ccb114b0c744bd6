"""One writer per index folder: an advisory lock that the operating system releases for us.

Two servers on one workspace share its index folder; two writers there duplicate rows, lose
symbols and fail commits. The first to open the index for writing takes `writer.lock` in the
folder with `fcntl.flock`; any other opener reads what the writer commits and writes nothing.
The lock belongs to an open file description, so it goes when the process does (a crash,
`kill -9`), and two opens in one process exclude each other like two processes do. The file
holds the writer's pid, for the message that names it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "writer.lock"


class WriterLock:
    def __init__(self, db_dir: Path) -> None:
        self.path = db_dir / LOCK_FILE
        self._fd: int | None = None
        self._retired = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if no one holds it; True if this object holds it now."""
        if self._fd is not None:
            return True
        if self._retired:
            return False
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid that holds the lock: ours, or the one the writer wrote into the file."""
        if self._fd is not None:
            return os.getpid()
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the description drops the flock
            self._fd = None

    def retire(self) -> None:
        """Release for good: an index replaced by a new one (new settings) hands over to it."""
        self._retired = True
        self.release()
