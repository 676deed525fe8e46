"""Storage planned before the work: is there room for everything a command will write? (docs/storage.md)

    plan = plan_image(Path("disc.iso"), Path("disc.iso.custody.sqlite"), capacity_sectors, 2048)
    print(*plan.lines(), sep="\\n")
    plan.check()                                  # NotEnoughSpace (exit 1) before anything is read

Each Need is a path, a size and what it is. Needs are grouped by the file system that will hold
them (st_dev of the path, or of its nearest existing directory) and compared with what an
unprivileged writer may use there (statvfs f_bavail x f_frsize). Blocks a file already holds at
a needed path (a partial image being resumed, a record growing) count as its own.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NotEnoughSpace, RecordError

MiB = 1 << 20

# The record (docs/record.md), measured on simulated acquisitions: an empty finished record is
# 112 KiB; a 100 000-sector disc with 1 201 unreadable sectors gave 3 656 damage rows, 989
# provenance rows and 196 windows in 816 KiB, i.e. ~200 bytes a damage+provenance row and
# ~150 bytes a 1 MiB window row with its index.
RECORD_BASE_BYTES = 1 * MiB            # schema, case, meta, events, passes, settings, page slack
RECORD_WAL_BYTES = 4 * MiB             # the -wal beside it while a run goes: SQLite checkpoints at
                                       # 1 000 pages (wal_autocheckpoint) of 4 096 bytes
RECORD_WINDOW_BYTES = 256              # one row a 1 MiB window of the image (piecewise hashes)
RECORD_FILES_FRACTION = 1 / 1000       # file-system tables: ~300 bytes a file, for files of
                                       # 300 kB on average (a disc of small files holds fewer MB)
RECORD_RUN_BYTES = 16 * MiB            # each run's damage log, provenance and map: room for
                                       # ~80 000 failed or marginal reads at ~200 bytes a row
TEMP_BYTES = 8 * MiB                   # the .tmp copies written before a rename: reports, sums
REPORTS_BYTES = 4 * MiB                # four reports and two SVG maps, on top of the record's size
AGE_HEADER_BYTES = 4096                # age header: ~100 bytes + a stanza per recipient (ssh-rsa's ~700)
AGE_CHUNK_BYTES = 64 * 1024            # age STREAM: each 64 KiB chunk gains a 16-byte Poly1305 tag
AGE_TAG_BYTES = 16
TAR_BLOCK_BYTES = 512
TAR_RECORD_BYTES = 20 * TAR_BLOCK_BYTES
E01_SLACK_FRACTION = 1 / 4096          # EWF: a checksum and a table entry per 32 KiB chunk, stored
E01_SLACK_BYTES = 1 * MiB              # uncompressed when compression does not help; headers


@dataclass(frozen=True, slots=True)
class Need:
    path: Path        # the file (or directory) that will be written
    bytes: int        # how many bytes it will hold when done
    what: str         # said in the figures: "image", "record", "temporary files", "bag", ...


@dataclass(frozen=True, slots=True)
class Filesystem:
    """One file system's share of a plan."""
    device: int                    # st_dev
    mount_point: Path
    free_bytes: int                # f_bavail x f_frsize: what a writer who is not root may use
    needs: tuple[Need, ...]
    held_bytes: int                # what files already at the needed paths hold (st_blocks x 512)

    @property
    def needed_bytes(self) -> int:
        return sum(n.bytes for n in self.needs)

    @property
    def missing_bytes(self) -> int:
        return max(0, self.needed_bytes - self.held_bytes - self.free_bytes)

    @property
    def ok(self) -> bool:
        return self.missing_bytes == 0

    def line(self) -> str:
        parts = ", ".join(f"{n.what} {human_bytes(n.bytes)}" for n in self.needs)
        held = f", {human_bytes(self.held_bytes)} already written" if self.held_bytes else ""
        verdict = "fits" if self.ok else f"{human_bytes(self.missing_bytes)} short"
        return (f"{self.mount_point}: needs {human_bytes(self.needed_bytes)} ({parts}){held}; "
                f"{human_bytes(self.free_bytes)} free: {verdict}")

    def as_json(self) -> dict:
        return {"mount_point": str(self.mount_point), "device": self.device, "free_bytes": self.free_bytes,
                "needed_bytes": self.needed_bytes, "held_bytes": self.held_bytes,
                "missing_bytes": self.missing_bytes, "ok": self.ok,
                "needs": [{"path": str(n.path), "bytes": n.bytes, "what": n.what} for n in self.needs]}


@dataclass(frozen=True, slots=True)
class Plan:
    filesystems: tuple[Filesystem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(fs.ok for fs in self.filesystems)

    def lines(self) -> list[str]:
        """The printable figures: one line a file system."""
        return [fs.line() for fs in self.filesystems]

    def as_json(self) -> dict:
        return {"ok": self.ok, "filesystems": [fs.as_json() for fs in self.filesystems]}

    def check(self) -> None:
        """NotEnoughSpace (exit 1) naming every file system that is short, with its numbers."""
        short = [fs for fs in self.filesystems if not fs.ok]
        if not short:
            return
        figures = "; ".join(
            f"{fs.mount_point} needs {human_bytes(fs.needed_bytes)} "
            f"({', '.join(f'{n.what} {human_bytes(n.bytes)}' for n in fs.needs)}), "
            f"{human_bytes(fs.free_bytes)} free ({fs.needed_bytes - fs.held_bytes} bytes still to write, "
            f"{fs.free_bytes} bytes available)" for fs in short)
        raise NotEnoughSpace(f"not enough space: {figures}",
                             hint="free space or choose another place; nothing was read or written")


def plan(needs: list[Need]) -> Plan:
    """Group `needs` by file system and compare each group with the space free there."""
    groups: dict[int, list[Need]] = {}
    where: dict[int, Path] = {}
    for need in needs:
        anchor = _existing(need.path)
        device = os.stat(anchor).st_dev
        groups.setdefault(device, []).append(need)
        where.setdefault(device, anchor)
    filesystems = []
    for device, group in groups.items():
        stat = os.statvfs(where[device])
        held = sum(min(_allocated(n.path), n.bytes) for n in group)
        filesystems.append(Filesystem(device, _mount_point(where[device]), stat.f_bavail * stat.f_frsize,
                                      tuple(group), held))
    return Plan(tuple(filesystems))


# --- what acquire's commands need --------------------------------------------------------------------

def record_estimate(capacity_sectors: int, sector_size: int, *, runs: int = 1) -> int:
    """Bytes the record of a disc may reach after `runs` runs (the constants above say why)."""
    image_bytes = capacity_sectors * sector_size
    windows = math.ceil(image_bytes / MiB)
    return (RECORD_BASE_BYTES + RECORD_WAL_BYTES + windows * RECORD_WINDOW_BYTES
            + math.ceil(image_bytes * RECORD_FILES_FRACTION) + runs * RECORD_RUN_BYTES)


def plan_image(image_path: Path, record_path: Path, capacity_sectors: int, sector_size: int,
               tmp: Path | None = None, *, runs: int = 1) -> Plan:
    """What `acquire image` will write: the whole image (preallocated), the record after `runs`
    runs, and the temporary files, in `tmp` when given, else beside the image."""
    image_path, record_path = Path(image_path), Path(record_path)
    needs = [
        Need(image_path, capacity_sectors * sector_size, "image"),
        Need(record_path, record_estimate(capacity_sectors, sector_size, runs=runs), "record"),
        Need(Path(tmp) if tmp is not None else image_path.parent, TEMP_BYTES, "temporary files"),
    ]
    return plan(needs)


def plan_export(record_path: Path, *, image: Path | None = None, bag_dir: Path | None = None,
                encrypted: Path | None = None, e01: Path | None = None, tmp: Path | None = None,
                link: bool = True) -> Plan:
    """What an export will write: a bag at `bag_dir` (the image costs nothing when it will be
    hard-linked: `link` and the same file system), an age copy at `encrypted` (of the bag when one
    is made, else of the E01), an E01 at `e01` (an upper bound: incompressible data), and the
    temporary files in `tmp` when given, else beside the first output."""
    record_path = Path(record_path)
    image = Path(image) if image is not None else _image_of(record_path)
    image_bytes = _size(image)
    record_bytes = _size(record_path)
    needs: list[Need] = []
    plain_bytes = 0                       # what the encrypted copy holds before encryption
    if bag_dir is not None:
        bag_dir = Path(bag_dir)
        linked = link and _same_filesystem(image, bag_dir) and _complete(record_path)
        beside = [image.with_name(image.name + s) for s in (".sha256", ".md5", ".sfv", ".seal.json", ".seal.json.sig")]
        small = record_bytes + sum(_size(p) for p in beside) + REPORTS_BYTES + record_bytes
        needs.append(Need(bag_dir, small if linked else small + image_bytes,
                          "bag (image hard-linked)" if linked else "bag"))
        files = [image_bytes, record_bytes, REPORTS_BYTES + record_bytes] + [_size(p) for p in beside]
        plain_bytes = tar_estimate(files, entries=len(files) + 16)
    e01_bytes = 0
    if e01 is not None:
        e01_bytes = image_bytes + math.ceil(image_bytes * E01_SLACK_FRACTION) + E01_SLACK_BYTES
        needs.append(Need(Path(e01), e01_bytes, "E01"))
    if encrypted is not None:
        needs.append(Need(Path(encrypted), age_estimate(plain_bytes or e01_bytes), "encrypted copy"))
    if needs:
        needs.append(Need(Path(tmp) if tmp is not None else needs[0].path.parent, TEMP_BYTES, "temporary files"))
    return plan(needs)


def tar_estimate(file_sizes: list[int], *, entries: int) -> int:
    """A tar of those files: each rounded up to 512-byte blocks, a header block an entry (two
    for a long name's pax header), two zero blocks at the end, all in 10 KiB records."""
    body = sum(math.ceil(s / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES for s in file_sizes)
    total = body + entries * 2 * TAR_BLOCK_BYTES + 2 * TAR_BLOCK_BYTES
    return math.ceil(total / TAR_RECORD_BYTES) * TAR_RECORD_BYTES


def age_estimate(plain_bytes: int) -> int:
    """An age file of `plain_bytes`: the header, the 16-byte nonce, and a tag a 64 KiB chunk."""
    chunks = max(1, math.ceil(plain_bytes / AGE_CHUNK_BYTES))
    return AGE_HEADER_BYTES + AGE_TAG_BYTES + plain_bytes + chunks * AGE_TAG_BYTES


def human_bytes(n: int) -> str:
    """Decimal units, as df -H and disc labels use them: 4.7 GB (as acquire.isowriter says them)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# --- file-system facts ------------------------------------------------------------------------------

def _existing(path: Path) -> Path:
    """The path itself when it exists, else its nearest existing parent directory."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _allocated(path: Path) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0
    return st.st_blocks * 512 if not os.path.isdir(path) else 0     # st_blocks: 512-byte units


def _mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _same_filesystem(a: Path, b: Path) -> bool:
    return os.stat(_existing(a)).st_dev == os.stat(_existing(b)).st_dev


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _image_of(record_path: Path) -> Path:
    suffix = ".custody.sqlite"
    name = record_path.name
    if not name.endswith(suffix) or name == suffix:
        raise RecordError(f"cannot tell the image of {record_path}", hint="name the record IMAGE.custody.sqlite "
                          "or give the image")
    return record_path.with_name(name[: -len(suffix)])


def _complete(record_path: Path) -> bool:
    """Every sector finished: only then does a bag hard-link the image (acquire.export.bag)."""
    from .record import Record
    from .rescue.sectormap import State
    try:
        with Record.open_readonly(record_path) as record:
            return all(state in (State.FINISHED, State.NOT_RECORDED) for _, _, state in record.load_map())
    except RecordError:
        return False
