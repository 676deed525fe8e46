"""The batch's queue: one job per disc, from a CSV (one row a disc) or a directory of job files
(one TOML file a disc, read in name order). The queue order is the order of the discs in the stack.

A job names its catalogue ID (required, unique: it names the disc's folder), the case fields, the
imaging options, and what the queue knows of the disc, checked against the disc in the drive
before a sector is imaged: its volume label, creation date, capacity, profile and TOC.
"""
from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import UsageError

# columns of the CSV (or keys of a job file) and what they mean; docs/batch.md "The queue"
CASE_FIELDS = ("case", "evidence", "examiner", "notes")
IDENTITY_FIELDS = ("label", "created", "capacity", "profile", "toc")
OPTION_FIELDS = ("retries", "speed", "strategy", "no_trim", "no_scrape", "second_read", "budget_s")
OTHER_FIELDS = ("id", "device")
ALL_FIELDS = OTHER_FIELDS + CASE_FIELDS + IDENTITY_FIELDS + OPTION_FIELDS
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BOOLS = ("no_trim", "no_scrape", "second_read")
_TRUE, _FALSE = {"1", "true", "yes", "y"}, {"", "0", "false", "no", "n"}


@dataclass(frozen=True, slots=True)
class Job:
    """One disc of the queue, as the catalogue describes it."""

    position: int                      # 1-based, in stack order
    id: str                            # catalogue ID: the disc's folder name
    device: str | None = None          # this disc's own drive (no changer, no prompt: sim: profiles)
    case: str | None = None
    evidence: str | None = None
    examiner: str | None = None
    notes: str | None = None
    label: str | None = None           # ISO 9660 volume identifier
    created: str | None = None         # volume creation date, a prefix of ISO 8601 (e.g. 2004-05-11)
    capacity: int | None = None        # sectors
    profile: str | None = None         # profile name as `acquire info` prints it (e.g. CD-ROM)
    toc: str | None = None             # track start LBAs, "1:0 2:5000 AA:9000" (AA: the lead-out)
    retries: int = 1
    speed: str | None = None
    strategy: str | None = None
    no_trim: bool = False
    no_scrape: bool = False
    second_read: bool = False
    budget_s: float | None = None      # this disc's time budget (default: the batch's)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def expects(self) -> dict[str, Any]:
        """What the queue says the disc is: only the fields it gives."""
        return {k: getattr(self, k) for k in IDENTITY_FIELDS if getattr(self, k) is not None}

    def describe(self) -> str:
        known = ", ".join(f"{k} {v}" for k, v in self.expects.items())
        return f"{self.id}" + (f" ({known})" if known else "")


def load_queue(path: Path) -> list[Job]:
    """The jobs of a CSV file or a directory of .toml job files; any mistake is one UsageError line."""
    if path.is_dir():
        rows = [(str(p), _read_toml(p)) for p in sorted(path.glob("*.toml"))]
    elif path.is_file():
        rows = _read_csv(path)
    else:
        raise UsageError(f"{path}: no such queue", hint="give a CSV file or a directory of .toml job files")
    if not rows:
        raise UsageError(f"{path}: the queue is empty", hint="add one row (or one .toml file) a disc")
    jobs = [_job(where, position, raw) for position, (where, raw) in enumerate(rows, 1)]
    seen: dict[str, str] = {}
    for (where, _raw), job in zip(rows, jobs):
        if job.id in seen:
            raise UsageError(f"{where}: catalogue ID {job.id!r} is also in {seen[job.id]}",
                             hint="each disc needs its own ID: it names the disc's folder")
        seen[job.id] = where
    return jobs


def _read_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "id" not in [n.strip() for n in reader.fieldnames]:
            raise UsageError(f"{path}: the first line must name the columns, one of them id",
                             hint="e.g. id,case,evidence,label,capacity")
        out = []
        for line, row in enumerate(reader, 2):
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if any(clean.values()):
                out.append((f"{path} line {line}", {k: v for k, v in clean.items() if v != ""}))
        return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the job file ({exc})") from exc
    doc.setdefault("id", path.stem)
    return doc


def _job(where: str, position: int, raw: dict[str, Any]) -> Job:
    values: dict[str, Any] = {"position": position}
    extra = {}
    for key, value in raw.items():
        if key not in ALL_FIELDS:
            extra[key] = str(value)        # kept in the manifest's row, never interpreted
            continue
        values[key] = _typed(where, key, value)
    if "id" not in values or not _ID_RE.match(str(values["id"])):
        raise UsageError(f"{where}: id {raw.get('id')!r} is not a catalogue ID",
                         hint="letters, digits, '.', '_' and '-', starting with a letter or digit")
    return Job(**values, extra=extra)


def _typed(where: str, key: str, value: Any) -> Any:
    types = {f.name: f.type for f in fields(Job)}
    kind = types[key]
    text = str(value).strip() if not isinstance(value, bool) else value
    try:
        if key in _BOOLS:
            if isinstance(text, bool):
                return text
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if key in ("retries", "capacity"):
            number = int(text)
            if number < 0:
                raise ValueError
            return number
        if key == "budget_s":
            number = float(text)
            if number <= 0:
                raise ValueError
            return number
    except ValueError:
        raise UsageError(f"{where}: {key} {value!r} is not {'true or false' if key in _BOOLS else 'a number'}") from None
    assert "str" in str(kind)
    return str(text)
