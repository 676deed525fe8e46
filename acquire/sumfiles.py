"""The sum files beside an image: IMAGE.sha256 and IMAGE.md5 for coreutils' `-c`, and IMAGE.sfv for
SFV checkers (the CRC32 that Redump and No-Intro lists carry). Each is written durably (a
temporary name, fsync, rename), so a file with the final name is always whole."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .durable import write_durably
from .hashing import Hashes


def write_sum_files(image: Path, hashes: Hashes, *, comment_lines: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write IMAGE.sha256 and IMAGE.md5 beside the image, for `sha256sum -c` and `md5sum -c` run in its directory.

    Comment lines start with '#': GNU coreutils (checked with 9.1, also under --strict and --warn)
    skips them silently. Each file is written to a temporary name, fsynced and renamed.
    """
    image = Path(image)
    comments = "".join(f"# {line}\n" for text in comment_lines for line in str(text).splitlines() or [""])
    written = []
    for algorithm in ("sha256", "md5"):
        target = image.with_name(f"{image.name}.{algorithm}")
        write_durably(target, comments + _sum_line(getattr(hashes, algorithm), image.name))
        written.append(target)
    return written[0], written[1]


def write_sfv(image: Path, hashes: Hashes, *, comment_lines: Sequence[str] = ()) -> Path:
    """Write IMAGE.sfv, the Simple File Verification form of the CRC32 (cksfv, RapidCRC, QuickSFV):
    comment lines start with ';', then `NAME CRC32` with the CRC in 8 uppercase hex digits.
    coreutils has no CRC32 checker (cksum is a different CRC); SFV is what tools read."""
    image = Path(image)
    comments = "".join(f"; {line}\n" for text in comment_lines for line in str(text).splitlines() or [""])
    target = image.with_name(f"{image.name}.sfv")
    write_durably(target, comments + f"{image.name} {hashes.crc32.upper()}\n")
    return target


def _sum_line(hex_digest: str, name: str) -> str:
    # coreutils: a name holding a backslash or newline is escaped, and the line then starts with '\'
    if "\\" in name or "\n" in name:
        return "\\" + hex_digest + "  " + name.replace("\\", "\\\\").replace("\n", "\\n") + "\n"
    return f"{hex_digest}  {name}\n"
