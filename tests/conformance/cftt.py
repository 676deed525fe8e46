"""Acquisitions shared by the CFTT conformance suite (docs/conformance.md), each made once per session.

Every one goes through the CLI (`python -m acquire`, a real subprocess) and the simulated drive, and
leaves real files: the source disc's bytes, the image, the SQLite record, the drive's READ trace.
No conftest.py here on purpose: a second `conftest` module would shadow tests/conftest.py, which the
other test files import by that name.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import SECTOR, make_disc, run_acquire, write_profile

SECTORS = 3000
# the simulated damage: (first LBA, last LBA, sense); two senses, so each range's own sense is checked
DAMAGE = [(100, 103, "03/11/05"), (2000, 2010, "03/11/05"), (2600, 2600, "03/11/06")]
CASE = ["--case", "2026-114", "--evidence", "item 7", "--examiner", "A. Smith", "--notes", "sealed bag 3"]
DRIVE = {"serial": "SIM-CFTT", "vendor": "PLEXTOR", "product": "DVDR PX-760A", "revision": "1.07",
         "trace": "trace.log"}


@dataclass(frozen=True)
class Acquisition:
    where: Path
    source: Path          # the disc's bytes, as the simulated drive holds them
    profile: Path
    image: Path
    record: Path
    args: tuple[str, ...]  # what followed `acquire` on the command line
    code: int
    out: dict             # `--json`
    started: datetime     # wall clock (UTC) just before and just after the run
    ended: datetime

    @property
    def trace(self) -> Path:
        return self.where / "trace.log"

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.record}?mode=ro", uri=True)


def damage_profile_entries() -> list[dict]:
    by_sense: dict[str, list[str]] = {}
    for first, last, sense in DAMAGE:
        by_sense.setdefault(sense, []).append(f"{first}-{last}" if last > first else str(first))
    return [{"lbas": ", ".join(lbas), "kind": "unreadable", "sense": sense} for sense, lbas in by_sense.items()]


def unreadable_lbas() -> dict[int, str]:
    return {lba: sense for first, last, sense in DAMAGE for lba in range(first, last + 1)}


def acquire_disc(where: Path, *, damage: list[dict] = (), sectors: int = SECTORS, profile: str = "cd-rom",
                 image_name: str = "out.iso", extra: tuple[str, ...] = ()) -> Acquisition:
    where.mkdir(parents=True, exist_ok=True)
    source = where / "disc.bin"
    if not source.exists():
        make_disc(source, sectors)
    prof = write_profile(where / "disc.toml", "disc.bin", profile=profile, damage=list(damage), drive=DRIVE)
    image = where / image_name
    args = ("image", f"sim:{prof}", str(image), *CASE, *extra, "--json")
    started = datetime.now(timezone.utc)
    done = run_acquire(*args)
    ended = datetime.now(timezone.utc)
    assert done.returncode in (0, 3), (done.returncode, done.stdout, done.stderr)
    return Acquisition(where, source, prof, image, Path(f"{image}.custody.sqlite"), args, done.returncode,
                       json.loads(done.stdout), started, ended)


_made: dict[str, Acquisition] = {}


def clean(tmp_path_factory) -> Acquisition:
    """A CD-ROM of 3000 distinct sectors without damage."""
    if "clean" not in _made:
        _made["clean"] = acquire_disc(tmp_path_factory.mktemp("clean"))
    return _made["clean"]


def damaged(tmp_path_factory) -> Acquisition:
    """The same size of CD-ROM with DAMAGE: 16 sectors that never read."""
    if "damaged" not in _made:
        _made["damaged"] = acquire_disc(tmp_path_factory.mktemp("damaged"), damage=damage_profile_entries())
    return _made["damaged"]


def copy_of(acquisition: Acquisition, where: Path) -> Acquisition:
    """The image, its record and its seal copied elsewhere, for a test that changes or appends to them."""
    for path in acquisition.where.iterdir():
        if path.name.startswith(acquisition.image.name):
            shutil.copy2(path, where / path.name)
    return Acquisition(where, acquisition.source, acquisition.profile, where / acquisition.image.name,
                       where / acquisition.record.name, acquisition.args, acquisition.code, acquisition.out,
                       acquisition.started, acquisition.ended)


def map_runs(db: sqlite3.Connection, *, finished: bool) -> list[tuple[int, int]]:
    """Inclusive [first, last] ranges of the sector map that are (not) finished."""
    rows = db.execute("SELECT start, count, state FROM sector_map ORDER BY start").fetchall()
    return [(start, start + count - 1) for start, count, state in rows if (state == 4) == finished]


def wait_for_lines(path: Path, lines: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {lines} lines")


__all__ = ["SECTOR", "SECTORS", "DAMAGE", "CASE", "DRIVE", "Acquisition", "acquire_disc", "clean", "damaged",
           "copy_of", "map_runs", "unreadable_lbas", "damage_profile_entries", "wait_for_lines"]


# the two acquisitions every conformance module checks, made once a module (imported by name into
# each: a conftest.py here would shadow tests/conftest.py, which the test files import as `conftest`)
@pytest.fixture(scope="module", name="clean")
def clean_fixture(tmp_path_factory) -> Acquisition:
    return clean(tmp_path_factory)


@pytest.fixture(scope="module", name="damaged")
def damaged_fixture(tmp_path_factory) -> Acquisition:
    return damaged(tmp_path_factory)
