"""Files copied out of an image by the extents the record's analysis holds, through any file system
it lists (ISO 9660, Joliet, UDF, HFS, HFS+): read-only on the image, never writing outside the
target directory, and naming the unreadable sectors of each file instead of passing zeros off as data.

    done = extract_files(record_path, image_path, ["/docs/a.bin", "/photos"], out_dir)
    # [Extracted(path, filesystem, target, size, sha256, verdict, unreadable), ...]
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AcquireError, UsageError
from ..record import Record
from ..record.fs_tables import Analysis, FileEntry, load_analysis
from ..rescue.sectormap import SectorMap
from .reader import SECTOR, SectorReader
from .udf_descriptors import EFE, file_entry, tag

__all__ = ["Extracted", "extract_files", "safe_target"]
MAX_FILES = 1_000_000


@dataclass(frozen=True, slots=True)
class Extracted:
    path: str                              # in the file system
    filesystem: str                        # its kind
    target: Path                           # where it was written
    size: int
    sha256: str
    verdict: str
    unreadable: tuple[tuple[int, int], ...]   # (lba, count) of its sectors not read: zeros in `target`


def extract_files(record_path: Path, image_path: Path, paths: list[str], out_dir: Path, *,
                  kind: str | None = None) -> list[Extracted]:
    """Copy the files named (a directory: everything below it) into `out_dir`, keeping their paths;
    through the file system of `kind` only, when given (else the first that names each path)."""
    analysis, smap = _load(record_path)
    chosen = _select(analysis, paths, kind)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    kinds = {fs.id: fs.kind for fs in analysis.filesystems}
    out = []
    with SectorReader(image_path, smap) as reader:
        for f in chosen:
            target = safe_target(root, f.path)
            if f.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            data, bad = _bytes(reader, f)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _inside(root, target.parent.resolve()):
                raise UsageError(f"{f.path}: a link inside {root} leads outside it; nothing written there")
            with open(target, "xb") as handle:                # never over an existing file or through a link
                handle.write(data)
            out.append(Extracted(f.path, kinds.get(f.filesystem_id, "?"), target, len(data),
                                 hashlib.sha256(data).hexdigest(), "damaged" if bad else f.verdict, tuple(bad)))
    return out


def _load(record_path: Path) -> tuple[Analysis, SectorMap | None]:
    record = Record.open_readonly(record_path)
    try:
        analysis = load_analysis(record)
        medium, runs = record.medium(), record.load_map()
    finally:
        record.close()
    if analysis is None:
        raise AcquireError(f"{record_path} holds no file-system analysis; run acquire analyze {record_path} first")
    return analysis, (SectorMap.from_runs(medium["capacity"], runs) if runs else None)


def _select(analysis: Analysis, paths: list[str], kind: str | None) -> list[FileEntry]:
    """The files each path names, from the first file system that has it (primary views before their
    alternates, so a Joliet name is used only where the ISO 9660 tree lacks it)."""
    order = sorted((fs for fs in analysis.filesystems if kind is None or fs.kind == kind),
                   key=lambda fs: (fs.alternate_of is not None, fs.id))
    if not order:
        raise UsageError(f"the analysis lists no {kind} file system",
                         hint="kinds: " + ", ".join(sorted({fs.kind for fs in analysis.filesystems})))
    chosen: dict[tuple[int, str], FileEntry] = {}
    missing = []
    for wanted in paths:
        wanted = "/" + wanted.strip("/")
        hit = False
        for fs in order:
            files = analysis.files_of(fs.id)
            below = [f for f in files if f.path == wanted or wanted == "/" or f.path.startswith(wanted.rstrip("/") + "/")]
            if below:
                for f in below[:MAX_FILES]:
                    chosen.setdefault((f.filesystem_id, f.path), f)
                hit = True
                break
        if not hit:
            missing.append(wanted)
    if missing:
        raise UsageError(f"not in any file system of the analysis: {', '.join(missing)}",
                         hint="acquire report RECORD lists the files")
    return sorted(chosen.values(), key=lambda f: (f.path.count("/"), f.path))


def safe_target(root: Path, path: str) -> Path:
    """`root` joined with the file's path, refusing any name that would leave it ('..', a NUL)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." or "\0" in p for p in parts):
        raise UsageError(f"refusing {path!r}: its name would leave {root}")
    target = root.joinpath(*parts) if parts else root
    if not _inside(root, Path(os.path.abspath(target))):
        raise UsageError(f"refusing {path!r}: its name would leave {root}")
    return target


def _inside(root: Path, path: Path) -> bool:
    return os.path.commonpath([root, path]) == str(root)


def _bytes(reader: SectorReader, f: FileEntry) -> tuple[bytes, list[tuple[int, int]]]:
    """The file's bytes and its unreadable (lba, count) runs: HFS forks by their exact byte runs, UDF
    data embedded in its entry from that entry, everything else by its sector extents."""
    if f.embedded and f.entry_lba is not None:
        if not reader.readable(f.entry_lba):
            return bytes(f.size), [(f.entry_lba, 1)]
        d = reader.read(f.entry_lba)
        t = tag(d)
        if t is None:
            return bytes(f.size), [(f.entry_lba, 1)]
        return file_entry(d, t[0] == EFE).ads[:f.size].ljust(f.size, b"\0"), []
    bad = [run for lba, n in f.extents for run in reader.bad_runs(lba, n)]
    runs = f.metadata.get("byte_runs") or [(lba * SECTOR, n * SECTOR) for lba, n in f.extents]
    data = b"".join(_read_run(reader, int(o), int(n), bad) for o, n in runs)
    return data[:f.size].ljust(f.size, b"\0") if f.extents or not f.size else bytes(f.size), bad


def _read_run(reader: SectorReader, offset: int, length: int, bad: list[tuple[int, int]]) -> bytes:
    """Image bytes, with zeros wherever a sector the map does not mark read falls (whatever the
    image holds there: only the map says what was read)."""
    data = bytearray(reader.read_bytes(offset, length))
    for lba, count in bad:
        lo, hi = max(offset, lba * SECTOR), min(offset + length, (lba + count) * SECTOR)
        if lo < hi:
            data[lo - offset:hi - offset] = bytes(hi - lo)
    return bytes(data)

