"""`acquire validate`: the image works as its users will use it: other readers agree, it mounts, it boots.

    result = validate(Path("disc.iso.custody.sqlite"))          # boot=True, mount=True
    for check in result.checks: print(check.line())

Each check is appended to the record as one chained 'validation' event holding its figures (the
chain and a new seal cover it: a changed outcome fails `acquire verify`), and only to a record that
verifies intact, as verify does. Boot screenshots are kept beside the record and hashed in the event.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RecordError
from ..fs.analyze import analyze_image
from ..record import Record
from ..record.fs_tables import load_analysis
from ..rescue.sectormap import SectorMap
from ..record.layout_tables import load_layout
from . import guest
from .agree import check_readers, data_session_start, data_track_starts
from .boot import DEFAULT_TIME_LIMIT_S, check_boot
from .mount import check_mount
from .result import EVENT, Check

__all__ = ["Check", "Validation", "validate", "skip_requested"]

RECORD_SUFFIX = ".custody.sqlite"
SKIP_ENV = "ACQUIRE_NO_VALIDATE"           # set (to anything but '' or 0): `acquire image` does not validate


def skip_requested() -> bool:
    return os.environ.get(SKIP_ENV, "") not in ("", "0")


@dataclass
class Validation:
    record: Path
    image: Path
    checks: list[Check] = field(default_factory=list)
    recorded: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_json(self) -> dict:
        return {"record": str(self.record), "image": str(self.image), "ok": self.ok,
                "checks": [c.as_json() for c in self.checks], "recorded": self.recorded}


def image_of(record_path: Path) -> Path:
    name = record_path.name
    if not name.endswith(RECORD_SUFFIX):
        raise RecordError(f"{record_path}: cannot tell the image of a record not named IMAGE{RECORD_SUFFIX}")
    return record_path.with_name(name[: -len(RECORD_SUFFIX)])


def validate(record_path: Path, *, boot: bool = True, mount: bool = True, readers: bool = True,
             time_limit_s: float = DEFAULT_TIME_LIMIT_S, record_result: bool = True,
             guest_cache: Path | None = None, image: Path | None = None) -> Validation:
    """Every check asked for, then (unless `record_result` is False) each appended to an intact record.
    `image`: the image, when the record is not named IMAGE.custody.sqlite beside it."""
    record_path = Path(record_path)
    image = Path(image) if image is not None else image_of(record_path)
    if not image.is_file():
        raise RecordError(f"{image} is missing: validate checks the image beside its record")
    record = Record.open_readonly(record_path)
    try:
        head = record.head_hash()
        intact = not record.verify()           # decided read-only: a record that gets nothing keeps its bytes
        analysis = load_analysis(record)
        layout = load_layout(record)
        note = None
        if analysis is None:
            medium, runs = record.medium() or {}, record.load_map()
            smap = SectorMap.from_runs(medium["capacity"], runs) if runs and medium.get("capacity") else None
            analysis = analyze_image(image, smap, session_starts=data_track_starts(layout) or None)
            note = "the record holds no analysis: the image was analysed now (acquire analyze stores it)"
    finally:
        record.close()
    result = Validation(record_path, image)
    if readers:
        result.checks.append(check_readers(image, analysis, data_session_start(image, layout)))
    if mount:
        result.checks.append(check_mount(image, analysis, cache=guest_cache or guest.DEFAULT_CACHE))
    if boot:
        result.checks += check_boot(image, analysis, record_path.parent, time_limit_s=time_limit_s)
    if note:
        for check in result.checks:
            check.details.insert(0, note)
    if not record_result:
        result.recorded = "not recorded (--no-record): the record file is unchanged"
    elif not intact:
        result.recorded = "not recorded: the record itself does not verify, so nothing is added to it"
    else:
        result.recorded = _append(record_path, head, result.checks)
    return result


def _append(record_path: Path, head: str | None, checks: list[Check]) -> str:
    """One chained 'validation' event per check and a new seal, if the record is unchanged since it verified."""
    record = Record.open(record_path)
    try:
        if record.head_hash() != head:
            return "not recorded: the record changed while it was being validated; run validate again"
        for check in checks:
            record.log_event(None, EVENT, **check.as_json())
        record.seal(None)
        return f"recorded: {len(checks)} chained 'validation' event(s) and a new seal (chain head {record.head_hash()})"
    finally:
        record.close()
