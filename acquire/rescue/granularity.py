"""How this drive fails on this disc: whole ECC units, or sector by sector.

A DVD or BD drive corrects errors per ECC block (16 or 32 sectors). Some drives fail the whole
block when it cannot be corrected; others return the sectors of it whose EDC checks out, and
fail only the rest. Which one is in the drive shows in the reads, and the adaptive engine asks:

- partial: sectors of a unit that failed read (the good sectors before the LBA the sense
  INFORMATION field named; or a sector read alone inside the failed unit, when the sector the
  failure named then fails again alone, so that it was not a flaky unit that has since read);
- whole: a sector read alone inside a failed unit fails too.

Two units with partial evidence decide "sector" (the failure unit becomes 1); three with whole
evidence and none partial decide "ECC unit" and the probing stops. At most MAX_PROBES probe reads.
A resumed run re-learns from the map: a unit holding both finished and failed sectors is partial.
"""
from __future__ import annotations

from .sectormap import SectorMap, State

PARTIAL_TO_DECIDE = 2
WHOLE_TO_DECIDE = 3
MAX_PROBES = 8
_FAILED = (State.NON_TRIMMED, State.NON_SCRAPED, State.BAD)


class Granularity:
    def __init__(self, ecc: int) -> None:
        self.ecc = max(1, ecc)
        self.unit = self.ecc
        self.decided = self.ecc == 1
        self.partial_units: set[int] = set()
        self.whole_units: set[int] = set()
        self.probes = 0

    def wants_probe(self) -> bool:
        return not self.decided and self.probes < MAX_PROBES

    def partial(self, lba: int, *, probed: bool = False) -> bool:
        """Evidence that the unit of `lba` failed in part. True once decided."""
        self.probes += probed
        self.partial_units.add(lba // self.ecc)
        if len(self.partial_units) >= PARTIAL_TO_DECIDE:
            self.unit, self.decided = 1, True
        return self.decided

    def whole(self, lba: int) -> bool:
        self.probes += 1
        self.whole_units.add(lba // self.ecc)
        if len(self.whole_units) >= WHOLE_TO_DECIDE and not self.partial_units:
            self.decided = True
        return self.decided

    def learn_from_map(self, smap: SectorMap) -> bool:
        """Partial evidence in a map made by an earlier run."""
        if self.decided:
            return self.decided
        for run in smap.runs_of(*_FAILED):
            for u in {run.start // self.ecc, (run.end - 1) // self.ecc}:
                lo, hi = u * self.ecc, min(smap.sectors, (u + 1) * self.ecc)
                if any(r.state == State.FINISHED for r in smap.runs(lo, hi)):
                    if self.partial(lo):
                        return True
        return self.decided

    def describe(self) -> str:
        if self.ecc == 1:
            return "sector (no ECC unit)"
        if self.unit == 1:
            return f"sector: this drive returns the good sectors of a failed {self.ecc}-sector unit"
        return f"{self.ecc}-sector unit" + ("" if self.decided else " (assumed, not yet shown)")
