"""What the record holds back until the image is on the disk: the sector map, provenance and
damage rows are staged in memory and written in one transaction, which the run asks for only
after fdatasync of the image (acquire.imaging.checkpoint). The map must never say "finished"
before the data is on disk."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable

from .schema import DAMAGE_OUTCOMES, TABLES

DAMAGE_COLUMNS = [c for c in TABLES["damage"][0] if c != "id"]


@dataclass
class Batch:
    map_runs: list[tuple[int, int, int]] | None = None     # the whole map, when staged
    provenance: list[tuple] = field(default_factory=list)
    damage: list[tuple] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.map_runs is not None or bool(self.provenance) or bool(self.damage)

    def summary(self) -> dict[str, Any]:
        return {"map_staged": self.map_runs is not None, "provenance_staged": len(self.provenance),
                "damage_staged": len(self.damage)}

    def write(self, conn: sqlite3.Connection) -> None:
        """Inside the caller's transaction: the map replaced whole, the rows appended."""
        if self.map_runs is not None:
            conn.execute("DELETE FROM sector_map")
            conn.executemany("INSERT INTO sector_map (start, count, state) VALUES (?, ?, ?)", self.map_runs)
        conn.executemany(
            "INSERT INTO provenance (start, count, run_id, drive_id, phase, pass_no) VALUES (?, ?, ?, ?, ?, ?)",
            self.provenance)
        conn.executemany(
            f"INSERT INTO damage ({', '.join(DAMAGE_COLUMNS)}) VALUES ({', '.join('?' * len(DAMAGE_COLUMNS))})",
            self.damage)


class Staging:
    """The batch being gathered; take() hands it over and starts a new one."""

    def __init__(self) -> None:
        self.batch = Batch()

    @property
    def provenance(self) -> list[tuple]:
        return self.batch.provenance

    def stage_map(self, runs: Iterable[tuple[int, int, int]]) -> None:
        staged = []
        for start, count, state in runs:
            if not 0 <= state <= 5:          # rescue.sectormap.State: 0 untried .. 4 finished, 5 not recorded
                raise ValueError(f"sector map state must be 0..5, not {state}")
            staged.append((int(start), int(count), int(state)))
        self.batch.map_runs = staged

    def add_damage(self, fields: dict[str, Any]) -> None:
        unknown = set(fields) - set(DAMAGE_COLUMNS)
        if unknown:
            raise TypeError(f"add_damage() got unknown fields {sorted(unknown)}")
        if fields.get("outcome") not in DAMAGE_OUTCOMES:
            raise ValueError(f"damage outcome must be one of {DAMAGE_OUTCOMES}, not {fields.get('outcome')!r}")
        self.batch.damage.append(tuple(fields.get(c) for c in DAMAGE_COLUMNS))

    def take(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch
