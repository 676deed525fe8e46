"""Files that survive a crash: written under a temporary name, fsync'ed, renamed into place, and
the directory fsync'ed so that the rename itself survives a power cut. The one home of that order."""
from __future__ import annotations

import os
from pathlib import Path


def sync_path(path: Path) -> None:
    """fsync a file or a directory (a directory: so that a rename or a new name in it is on disk)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, data: bytes | str) -> None:
    """`target` holds `data` whole, or keeps what it held: never a torn file."""
    target = Path(target)
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(temp, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_path(target.parent)
