"""A run's record: created for a new disc, or reopened once the disc in the drive has shown that it
is the recorded one (capacity, profile, TOC, and the SHA-256 of a probe area read again)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__
from ..drive.device import SECTOR_BYTES, Drive, Medium
from ..errors import RecordError, WrongDisc
from ..record import Record
from ..rescue.sectormap import State


def finished_in(record_path: Path) -> int:
    """Sectors the record's map calls finished (read-only: looking must not change the record)."""
    record = Record.open_readonly(record_path)
    try:
        return sum(count for _, count, state in record.load_map() if state == State.FINISHED)
    finally:
        record.close()


def medium_identity(medium: Medium, probe: tuple[int, int, str] | None, structures: dict[str, str] | None = None) -> dict:
    """What says "the same disc" on resume; `structures`: name -> SHA-256 of the disc structures
    that do not change when a session is added (ATIP, CD-TEXT, PFI, DMI, BCA, BD DI)."""
    out = {"capacity": medium.capacity, "profile": medium.profile, "toc": medium.toc_summary(),
           "probe": list(probe) if probe else None}
    if structures:
        out["structures"] = dict(structures)
    return out


def create_record(path: Path, options, medium: Medium, probe, structures: dict[str, str] | None = None) -> Record:
    """The record of a new acquisition, with the medium and its identity in it from the start."""
    return Record.create(path, case_id=options.case_id, evidence_id=options.evidence_id,
                         examiner=options.examiner, notes=options.notes, tool_version=__version__,
                         medium=dict(profile=medium.profile, profile_name=medium.profile_name,
                                     capacity=medium.capacity, sector_size=SECTOR_BYTES,
                                     toc_json=json.dumps(medium.toc_summary()),
                                     disc_information_json=json.dumps(medium.disc_information_summary()),
                                     identity=json.dumps(medium_identity(medium, probe, structures), sort_keys=True),
                                     volume_label=None, volume_json=None))


def open_for_resume(path: Path, medium: Medium, drive: Drive, structures: dict[str, str] | None = None) -> Record:
    """The record, once the disc in the drive has shown it is the recorded one (the probe is re-read)."""
    record = Record.open(path)
    known = record.medium()
    if known is None:
        record.close()
        raise RecordError(f"{path} has no medium recorded", hint="it was not written by `acquire image`")
    differs = _differences(json.loads(known["identity"]), medium, drive, structures or {})
    if differs:
        record.close()
        hint = "insert the original disc, or image this one to a new path"
        if _appended(json.loads(known["identity"]).get("toc") or [], medium.toc_summary()):
            hint = f"sessions were added since: image it to a new path with --incremental-from {path}"
        raise WrongDisc(f"the disc in {drive.name} is not the disc in {path} (differs in {', '.join(differs)})",
                        hint=hint)
    return record


def _appended(was: list[dict], now: list[dict]) -> bool:
    """The TOC now holds every track it held, and more: sessions were appended."""
    old = [t for t in was if t.get("track") != 0xAA]
    new = [t for t in now if t.get("track") != 0xAA]
    return bool(old) and len(new) > len(old) and new[:len(old)] == old


def _differences(was: dict, medium: Medium, drive: Drive, structures: dict[str, str]) -> list[str]:
    now = medium_identity(medium, None)
    differs = [k for k in ("capacity", "profile", "toc") if was.get(k) != now[k]]
    # a structure both runs read must be the same bytes (a record made before structures has none)
    differs += [f"disc structure {name}" for name, digest in sorted((was.get("structures") or {}).items())
                if name in structures and structures[name] != digest]
    if not differs and was.get("probe"):
        lba, count, digest = was["probe"]
        again = drive.read(lba, count, fua=True)
        if again.ok and hashlib.sha256(again.data).hexdigest() != digest:
            differs.append(f"content of LBA {lba}-{lba + count - 1}")
    return differs
