"""Writing files so that a crash never leaves one half-written: atomic writes, and groups written all or none.

Every file the package writes into a run directory goes through here. A file is written to a
temporary name in the same folder and moved over its target with ``os.replace`` (atomic on one
file system), so a reader sees the old file or the new one, never a mix; a ``kill -9`` can leave
only a temporary file, named ``.<target>.<random>.tmp``, which :func:`remove_stale_temporaries`
clears the next time the folder is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

TEMPORARY_SUFFIX = ".tmp"


def atomic_write_bytes(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8 into ``path``, atomically."""
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON into ``path``, atomically."""
    write_text(path, json.dumps(value, indent=2) + "\n")


@contextlib.contextmanager
def staged(folder: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """A temporary folder inside ``folder`` to write a group of files into; when the block ends without an
    error, those of ``names`` that exist are moved into ``folder`` (each atomically), and the rest is removed.
    A failure leaves the files already in ``folder`` as they were."""
    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staged-"))
    try:
        yield staging
        for name in names:
            if (staging / name).exists():
                os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files and staging folders that an interrupted write left in ``folder`` (names
    starting with a dot and ending in ``.tmp``, or staging folders); returns what was removed. Call it only
    while holding the folder's lock: another writer's temporaries would be taken for stale ones."""
    removed = []
    for path in Path(folder).glob(".*"):
        if path.is_file() and path.name.endswith(TEMPORARY_SUFFIX):
            path.unlink(missing_ok=True)
            removed.append(path)
        elif path.is_dir() and path.name.startswith(".staged-"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
