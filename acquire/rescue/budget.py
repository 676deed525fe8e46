"""The time budget of a run (`--max-drive-time`, `--until good`) and the estimate on the progress line.

A budget stop is not an error: the engine is unwound by `Stopped` at the next read (or pass) the
budget does not allow, the map keeps what was not read as it was (untried stays untried), and the
run ends partial with its reason in the record (runs.stop_reason, docs/record.md). A later run
on the same record goes on from the map.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

from .sectormap import SectorMap, State

UNTIL = ("good",)
MAX_DRIVE_TIME, UNTIL_GOOD = "max-drive-time", "until-good"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")
_UNIT_S = {"s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

# (strategy, phase, pass_no or None for any): the first pass that reads only what the strategy
# predicts unreadable; `--until good` stops when it would start (docs/rescue.md "The time budget").
# adaptive: after arcs 2 (everything predicted bad below 80 %) and scrape 1 (failures the model does
# not explain), the probe, scrape 2 and retry read only predicted-bad units and explained failures.
# linear: no model; trim and scrape find the good sectors inside failed blocks, so only the retry
# passes (sectors that failed alone) are left.
PREDICTED_UNREADABLE_FROM: dict[str, tuple[tuple[str, int | None], ...]] = {
    "adaptive": (("probe", None), ("scrape", 2), ("retry", None)),
    "linear": (("retry", None),),
}
WHY_UNREADABLE = {
    "adaptive": "the damage model predicts every untried unit left bad (80 % or more, the same angle on the "
                "turns around failed) and every failed sector left lies where it predicts damage",
    "linear": "every sector left failed a read of its own (copy, trim and scrape are done; only retries remain)",
}


class Stopped(Exception):
    """The budget ends the run here: `reason` is MAX_DRIVE_TIME or UNTIL_GOOD, `detail` one sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class Budget:
    max_drive_time_s: float | None = None   # drive time this run may use (simulated clock on sim:)
    until: str | None = None                # "good": stop once only predicted-unreadable sectors remain

    def as_dict(self) -> dict:
        return {"max_drive_time_s": self.max_drive_time_s, "until": self.until}

    @property
    def limited(self) -> bool:
        return self.max_drive_time_s is not None or self.until is not None


def parse_duration(text: str) -> float:
    """'90m', '2h', '30s', '45' (seconds), '1.5h' -> seconds; ValueError otherwise."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 90m, 2h or 30s")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def until_good_stops_at(strategy: str, phase: str, pass_no: int) -> bool:
    return any(p == phase and (n is None or n == pass_no) for p, n in PREDICTED_UNREADABLE_FROM.get(strategy, ()))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


PREDICT_SAMPLES = 64               # untried units the damage model is asked about per estimate
PREDICT_EVERY_S = 2.0              # wall seconds between two such samplings


class Estimate:
    """Drive time to the recoverable data and to the end, from what the reads cost so far and the
    damage model (docs/rescue.md "The time budget and the estimate"): an untried sector is bad with
    the fraction of sampled untried units the engine's damage model predicts bad (`predict_bad`;
    without one, the fraction of tried sectors that failed); a good one costs the mean drive time
    of a good sector so far; every bad untried sector costs one failed read per `unit` before the
    good data is in, and each bad or failed sector then `1 + retries` failed reads alone."""

    def __init__(self, unit: int, retries: int, error_s: float = 8.0) -> None:
        self.unit, self.retries = max(1, unit), retries
        self.good_s = self.good_sectors = 0.0
        self.failed_s, self.failed_reads = 0.0, 0
        self.default_error_s = error_s
        self.predict_bad: Callable[[], float | None] | None = None   # fraction of untried predicted bad
        self._predicted: tuple[float, float | None] = (-PREDICT_EVERY_S, None)   # (when, fraction)

    def saw(self, ok: bool, count: int, duration_s: float) -> None:
        if ok:
            self.good_s += duration_s
            self.good_sectors += count
        else:
            self.failed_s += duration_s
            self.failed_reads += 1

    def remaining(self, smap: SectorMap) -> tuple[float | None, float | None]:
        """(seconds to the recoverable data, seconds to the end), None until a good read was timed."""
        if not self.good_sectors:
            return None, None
        counts = smap.counts()
        untried = counts[State.UNTRIED]
        failed = counts[State.NON_TRIMMED] + counts[State.NON_SCRAPED]
        bad = counts[State.BAD]
        tried = smap.sectors - untried - counts.get(State.NOT_RECORDED, 0)   # a gap is no work and no damage
        p_bad = self._predicted_fraction()
        if p_bad is None:
            p_bad = (failed + bad) / tried if tried else 0.0
        per_good = self.good_s / self.good_sectors
        per_fail = self.failed_s / self.failed_reads if self.failed_reads else self.default_error_s
        expect_bad = untried * p_bad
        to_good = (untried - expect_bad) * per_good + expect_bad / self.unit * per_fail
        to_end = to_good + (expect_bad + failed) * (1 + self.retries) * per_fail + bad * self.retries * per_fail
        return to_good, to_end

    def _predicted_fraction(self) -> float | None:
        if self.predict_bad is None:
            return None
        now = time.monotonic()
        if now - self._predicted[0] >= PREDICT_EVERY_S:
            self._predicted = (now, self.predict_bad())
        return self._predicted[1]


def model_bad_fraction(model, smap: SectorMap, unit: int, samples: int = PREDICT_SAMPLES) -> float | None:
    """The fraction of `samples` untried units, spread evenly over the untried sectors, that the
    adaptive engine's damage model (damage.py DamageModel) predicts bad from both sides; None when
    nothing is untried."""
    runs = list(smap.runs_of(State.UNTRIED))
    total = sum(r.count for r in runs)
    if not total:
        return None
    step, bad, n = max(total / samples, 1.0), 0, 0
    offset, target = 0, step / 2
    for r in runs:
        while target < offset + r.count:
            x = r.start + int(target - offset)
            u = x - x % unit
            if model.near_damage(u, u + unit) and model.predict(u, unit, (-1, 1)).likely_bad:
                bad += 1
            n += 1
            target += step
        offset += r.count
    return bad / n if n else None
