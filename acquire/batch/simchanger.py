"""The simulated autoloader: a stack of simulated discs (profiles), drives it loads them into, an
accept and a reject pile, and the faults of real ones (a disc that does not load, two discs picked
at once). Its physical state is a JSON file beside its description, replaced whole after every move,
so that a batch killed at any instant finds the discs where they are, as it would on a real machine.

A drive of it is a simulated drive `sim:DIR/NAME.toml` whose profile the changer writes on each
load: the disc's profile with the drive's own [drive] keys (serial, product...) over it, and the
disc's relative paths made absolute. The file changer.toml:

    [[drive]]                  # one table a drive: name, then any [drive] key of a profile
    name = "A"
    serial = "SIM-A"

    [[disc]]                   # the input stack, top first
    profile = "discs/d01.toml"
    fault = "no-load"          # optional: no-load | double-pick
"""
from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .changer import ChangerError, LoadFailed, StackEmpty

FAULTS = ("no-load", "double-pick")
_PATH_KEYS = {("disc", "image"), ("drive", "trace")}


@dataclass(frozen=True, slots=True)
class SimDisc:
    profile: Path
    fault: str | None = None

    @property
    def name(self) -> str:
        return self.profile.stem


class SimChanger:
    def __init__(self, config: Path) -> None:
        self.config = config.resolve()
        try:
            doc = tomllib.loads(self.config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{config}: cannot read the simulated changer ({exc})") from exc
        base = self.config.parent
        self._drive_fields = {}
        for table in doc.get("drive", []):
            fields = dict(table)
            name = str(fields.pop("name", "")) or f"D{len(self._drive_fields) + 1}"
            self._drive_fields[name] = fields
        self.discs = []
        for table in doc.get("disc", []):
            fault = table.get("fault")
            if fault is not None and fault not in FAULTS:
                raise UsageError(f"{config}: [[disc]] fault {fault!r} is unknown", hint="give no-load or double-pick")
            self.discs.append(SimDisc((base / table["profile"]).resolve(), fault))
        if not self._drive_fields:
            raise UsageError(f"{config}: no [[drive]]", hint="give at least one [[drive]] table with a name")
        self.drive_dir = base / f"{self.config.stem}.drives"
        self.drive_dir.mkdir(exist_ok=True)
        self.state_path = base / f"{self.config.stem}.state.json"
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
        else:
            self.state = {"stack": list(range(len(self.discs))), "trays": {n: [] for n in self._drive_fields},
                          "piles": {"accept": [], "reject": []}}
            self._save()

    # -- the Changer interface ---------------------------------------------------------------
    def drives(self) -> list[tuple[str, str]]:
        return [(name, f"sim:{self.drive_dir / (name + '.toml')}") for name in self._drive_fields]

    def load(self, drive: str, hint: str) -> None:
        tray, stack = self.state["trays"][drive], self.state["stack"]
        if tray:
            raise ChangerError(f"drive {drive} already holds a disc", hint="unload it first")
        if not stack:
            raise StackEmpty("the input stack is empty")
        first = stack.pop(0)
        disc = self.discs[first]
        tray.append(first)
        if disc.fault == "double-pick" and stack:
            tray.append(stack.pop(0))         # the one picked with it lies on top: the drive reads that one
        seated = disc.fault != "no-load"
        if seated:
            self._write_drive(drive, self.discs[tray[-1]])
        self._save()
        if not seated:
            raise LoadFailed("the disc did not load (it lies on the tray, not seated)")

    def unload(self, drive: str, pile: str, hint: str) -> None:
        tray = self.state["trays"][drive]
        self.state["piles"][pile].extend(tray)
        tray.clear()
        (self.drive_dir / f"{drive}.toml").unlink(missing_ok=True)
        self._save()

    def tray(self, drive: str) -> bool:
        return bool(self.state["trays"][drive])

    def close(self) -> None:
        pass

    # -- what a test looks at ------------------------------------------------------------------
    def pile_of(self) -> dict[str, str]:
        """disc name -> the pile it lies on."""
        return {self.discs[i].name: pile for pile, held in self.state["piles"].items() for i in held}

    # -- plumbing --------------------------------------------------------------------------------
    def _write_drive(self, drive: str, disc: SimDisc) -> None:
        path = self.drive_dir / f"{drive}.toml"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(compose_profile(disc.profile, self._drive_fields[drive]), encoding="utf-8")
        os.replace(tmp, path)

    def _save(self) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)


def compose_profile(disc_profile: Path, drive_fields: dict[str, Any]) -> str:
    """The TOML of a simulated drive holding the disc of `disc_profile`: its tables, the drive's
    [drive] keys over its own, its relative paths made absolute (the file is written elsewhere)."""
    doc = tomllib.loads(disc_profile.read_text(encoding="utf-8"))
    doc["drive"] = {**doc.get("drive", {}), **drive_fields}
    for table, key in _PATH_KEYS:
        if key in doc.get(table, {}):
            doc[table][key] = str((disc_profile.parent / doc[table][key]).resolve())
    lines: list[str] = []
    for name, value in doc.items():
        if isinstance(value, dict):
            lines += [f"[{name}]"] + [f"{k} = {_value(v)}" for k, v in value.items()] + [""]
    for name, value in doc.items():
        if isinstance(value, list):
            for entry in value:
                lines += [f"[[{name}]]"] + [f"{k} = {_value(v)}" for k, v in entry.items()] + [""]
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{v} has no place in a profile")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)                  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} into a profile")
