"""E01 (EnCase 6 EWF) export of an acquisition: the image's bytes plus what the record knows (docs/export.md).

The record is opened read-only and the image O_RDONLY: exporting changes neither. The image is
streamed once, into libewf and into the hashes together; the E01 is kept only when those hashes
equal the record's, so an E01 always holds the image the record describes, with the record's MD5
and SHA-1. The segments are written under a temporary base name and renamed when complete, the
first segment last: a `NAME.E01` that exists is a whole set.
"""
from __future__ import annotations

import os
import platform
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import __version__
from ..errors import AcquireError, UsageError
from ..hashing import StreamHasher
from ..isowriter import SECTOR_BYTES, IsoReader
from ..record import Record
from ..rescue.sectormap import State
from . import libewf

COMPRESSIONS = tuple(libewf.COMPRESSION_LEVELS)          # none, fast, best
DEFAULT_COMPRESSION = "fast"
# definitions.h: #define LIBEWF_DEFAULT_SEGMENT_FILE_SIZE ( 1500 * 1024 * 1024 ), what ewfacquire uses too
DEFAULT_SEGMENT_BYTES = 1500 * 1024 * 1024
# ewfacquire -h (ewf-tools 20140813): "minimum is 1.0 MiB"; below it libewf silently writes segments
# larger than asked (one 128 KiB chunk and its sections each), so the limit would not hold
MINIMUM_SEGMENT_BYTES = 1 << 20
_READ_SECTORS = 512                  # 1 MiB a read: eight of libewf's 64-sector (128 KiB) chunks
# libewf names segments NAME.E01 .. NAME.E99, then NAME.EAA .. NAME.ZZZ (libewf_filename.c)
_SEGMENT_SUFFIX = re.compile(r"\.[E-Z][0-9A-Z]{2}$")
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$", re.I)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True, slots=True)
class E01Options:
    """How to write the E01; `output` is the first segment's path (default: beside the image)."""

    output: Path | None = None
    compression: str = DEFAULT_COMPRESSION
    segment_bytes: int = DEFAULT_SEGMENT_BYTES

    def first_segment(self, image: Path) -> Path:
        """Where the first segment (NAME.E01) of the set goes."""
        return _first_segment(self.output, image)


@dataclass(frozen=True, slots=True)
class E01Result:
    segments: list[Path]
    image_bytes: int                 # bytes of media data written
    written_bytes: int               # bytes of all segment files
    seconds: float
    acquiry_errors: list[tuple[int, int]] = field(default_factory=list)   # (start sector, count)

    @property
    def ratio(self) -> float:
        """Segment bytes per image byte: below 1 the E01 is smaller than the image."""
        return self.written_bytes / self.image_bytes if self.image_bytes else 1.0

    def as_json(self) -> dict:
        return {"kind": "e01", "segments": [str(p) for p in self.segments], "image_bytes": self.image_bytes,
                "written_bytes": self.written_bytes, "ratio": round(self.ratio, 4), "seconds": round(self.seconds, 3),
                "acquiry_errors": [list(e) for e in self.acquiry_errors]}


def parse_size(text: str) -> int:
    """'650M' -> 681574400: bytes, or K, M, G, T (binary multiples, as ewfacquire reads them)."""
    match = _SIZE.match(text)
    if not match or int(match[1]) <= 0:
        raise UsageError(f"cannot read the size {text!r}", hint="give bytes or a number with K, M or G, e.g. 650M")
    return int(match[1]) * _SIZE_UNITS[match[2].upper()]


def write_e01(record_path: Path, image: Path, options: E01Options) -> E01Result:
    if options.compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {options.compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}")
    if options.segment_bytes < MINIMUM_SEGMENT_BYTES:
        raise UsageError(f"a segment size of {options.segment_bytes} bytes is below libewf's minimum of 1 MiB",
                         hint="give --segment-size 1M or more")
    libewf.load()                    # before any work: without libewf, one line on how to install it
    facts = _read_record(record_path)
    first = _first_segment(options.output, image)
    base = first.with_suffix("")
    _refuse_existing(base)
    temp = base.with_name(f".{base.name}.partial-{os.getpid()}")
    _remove_segments(temp)           # a leftover of this pid's earlier, killed export
    started = time.monotonic()
    try:
        _write(temp, image, facts, options)
        segments = _rename_set(temp, base)
    except BaseException:
        _remove_segments(temp)
        raise
    return E01Result(segments=segments, image_bytes=facts.size_bytes,
                     written_bytes=sum(p.stat().st_size for p in segments),
                     seconds=time.monotonic() - started, acquiry_errors=facts.errors)


# --- what the record says ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Facts:
    sectors: int
    sector_size: int
    hashes: dict[str, str]
    errors: list[tuple[int, int]]
    headers: dict[str, str]

    @property
    def size_bytes(self) -> int:
        return self.sectors * self.sector_size


def _read_record(record_path: Path) -> _Facts:
    record = Record.open_readonly(record_path)
    try:
        tampered = [f for f in record.verify() if f.severity == "tampered"]
        if tampered:
            raise AcquireError(f"{record_path} fails its own check ({tampered[0].table}: {tampered[0].message})",
                               hint="run acquire verify RECORD; an E01 must not carry an edited record's facts")
        medium, case, hashes = record.medium(), record.case(), record.image_hashes()
        runs = record.load_map()
        conn = record.db.conn
        drives = conn.execute("SELECT DISTINCT d.id, d.vendor, d.product, d.revision, d.serial FROM runs r "
                              "JOIN drives d ON d.id = r.drive_id ORDER BY d.id").fetchall()
        versions = [v for (v,) in conn.execute("SELECT tool_version FROM runs GROUP BY tool_version ORDER BY min(id)")]
        first_run = conn.execute("SELECT started_utc FROM runs ORDER BY id LIMIT 1").fetchone()
        head = record.head_hash()
    finally:
        record.close()
    if medium is None or not {"md5", "sha1"} <= hashes.keys():
        raise AcquireError(f"{record_path} holds no finished image (no medium or no image hashes)",
                           hint="run the same acquire image command again to finish it")
    # every run neither finished nor not recorded (nothing on the disc there) is a range the image
    # holds zeros for in place of data: EWF's acquiry errors
    errors = [(start, count) for start, count, state in runs if state not in (State.FINISHED, State.NOT_RECORDED)]
    volume = medium.get("volume_label")
    description = (f"{medium.get('profile_name') or 'optical'} disc"
                   f"{f', volume {volume}' if volume else ''}, {medium['capacity']} sectors of {medium['sector_size']} bytes")
    notes = "; ".join(x for x in (case.get("notes"), f"acquire record {record_path.name}, head {head}") if x)
    headers = {
        "case_number": case.get("case_id"),
        "evidence_number": case.get("evidence_id"),
        "examiner_name": case.get("examiner"),
        "description": description,
        "notes": notes,
        "acquiry_software": "acquire",
        "acquiry_software_version": ", ".join(v for v in versions if v) or __version__,
        # the record keeps the acquiring host, not its OS: this is the system that wrote the E01
        "acquiry_operating_system": f"{platform.system()} {platform.release()}".strip(),
        "acquiry_date": str(int(_utc(first_run[0]).timestamp())) if first_run else None,
        "model": " / ".join(" ".join(x for x in (v, p, r) if x) for _, v, p, r, _ in drives) or None,
        "serial_number": " / ".join(s or "unknown" for *_, s in drives) if any(d[4] for d in drives) else None,
    }
    return _Facts(sectors=medium["capacity"], sector_size=medium["sector_size"], hashes=hashes, errors=errors,
                  headers={k: v for k, v in headers.items() if v})


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- writing ----------------------------------------------------------------------------------------

def _write(temp: Path, image: Path, facts: _Facts, options: E01Options) -> None:
    if facts.sector_size != SECTOR_BYTES:
        raise AcquireError(f"the record's sectors are {facts.sector_size} bytes; E01 export handles {SECTOR_BYTES}")
    reader = IsoReader(image, facts.sectors)
    try:
        actual = image.stat().st_size
        if actual != facts.size_bytes:
            raise AcquireError(f"image {image} holds {actual} bytes, the record says {facts.size_bytes}",
                               hint="run acquire verify RECORD")
        with libewf.EwfWriter(temp) as ewf:
            ewf.set_format(libewf.LIBEWF_FORMAT_ENCASE6)
            ewf.set_media_type(libewf.LIBEWF_MEDIA_TYPE_OPTICAL)
            ewf.set_media_flags(libewf.LIBEWF_MEDIA_FLAG_PHYSICAL)
            ewf.set_bytes_per_sector(facts.sector_size)
            ewf.set_media_size(facts.size_bytes)
            ewf.set_compression(libewf.COMPRESSION_LEVELS[options.compression])
            ewf.set_maximum_segment_size(options.segment_bytes)
            for name, value in facts.headers.items():
                ewf.set_header_value(name, value)
            for start, count in facts.errors:
                ewf.append_acquiry_error(start, count)
            hasher = StreamHasher()
            try:
                for lba in range(0, facts.sectors, _READ_SECTORS):
                    data = reader.read(lba, min(_READ_SECTORS, facts.sectors - lba))
                    hasher.update(data)
                    ewf.write(data)
                streamed = hasher.finish().as_dict()
            except BaseException:
                hasher.abort()
                raise
            differ = sorted(a for a, hex_ in facts.hashes.items() if a in streamed and streamed[a] != hex_)
            if differ:
                raise AcquireError(f"image {image} no longer hashes to the record's {', '.join(differ)}; no E01 written",
                                   hint="run acquire verify RECORD to find the changed windows")
            # only hashes just checked against the image reach the E01
            ewf.set_hash_value("md5", facts.hashes["md5"])
            ewf.set_hash_value("sha1", facts.hashes["sha1"])
            ewf.finalize()
    finally:
        reader.close()


def _first_segment(output: Path | None, image: Path) -> Path:
    if output is None:
        return image.with_suffix(".E01") if image.suffix.lower() == ".iso" else image.with_name(image.name + ".E01")
    output = Path(output)
    if output.suffix.upper() != ".E01":
        raise UsageError(f"-o {output}: the first segment's name must end in .E01",
                         hint=f"e.g. -o {output.with_name(output.name + '.E01')}; libewf names the others .E02, .E03 ...")
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: no directory {output.parent}")
    return output.with_suffix(".E01")           # libewf writes the upper-case suffix: keep what we rename to


def _segments(base: Path) -> list[Path]:
    """The files of the set named `base` (base.E01, base.E02 ...), in libewf's order."""
    prefix = base.name
    found = [p for p in base.parent.iterdir()
             if p.name.startswith(prefix) and len(p.name) == len(prefix) + 4 and _SEGMENT_SUFFIX.search(p.name)]
    # E01 .. E99 first, then EAA, EAB ... FAA: in each group the names sort as libewf counts
    return sorted(found, key=lambda p: (not p.suffix[2:].isdigit(), p.suffix))


def _refuse_existing(base: Path) -> None:
    # the first two names: a set of any size has them, and renaming must never replace a file
    for path in (base.with_name(base.name + ".E01"), base.with_name(base.name + ".E02")):
        if path.exists():
            raise AcquireError(f"{path} already exists", hint="remove it or choose another -o PATH")


def _remove_segments(base: Path) -> None:
    for path in _segments(base):
        path.unlink(missing_ok=True)


def _rename_set(temp: Path, base: Path) -> list[Path]:
    written = _segments(temp)
    if not written:
        raise AcquireError(f"libewf wrote no segment under {temp}")
    for path in written:             # on the disk before any carries its final name
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    final = [base.with_name(base.name + p.suffix) for p in written]
    for source, target in [*zip(written[1:], final[1:]), (written[0], final[0])]:
        os.replace(source, target)
    fd = os.open(base.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final
