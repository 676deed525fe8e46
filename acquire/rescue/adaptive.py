"""The adaptive engine: read what is likely good first, learn the damage, and spend failed reads last.

A failed READ costs the drive seconds (its own retries); a good one costs milliseconds. So the
order of work is by expected sectors recovered per second of drive time:

1. harvest   forward, ECC-aligned reads of `cluster` sectors at full speed. Near known damage each
             read ends before the first unit the damage model predicts bad (damage.py: the same
             angle on the neighbouring turns of the spiral), and predicted-bad units are stepped
             over, left untried. A failure is located (the sense INFORMATION field, or bisection
             when the drive gives none), the good sectors before it read, and only the failed
             sector marked; consecutive failures (a bad ring) skip ahead, doubling, as ddrescue.
0. other-drive  a run continuing in another drive first reads what earlier drives failed
             (engine.read_other_drive_failures; docs/rescue.md "Another drive").
2. flaky     an isolated failure (nothing failed beside it or at its angle) is a flaky
             candidate: its whole ECC unit is read again, up to retries + 1 times (sector by
             sector: once; its retries come in yield order, 6-7).
3. arcs      two passes forward over what the harvest left untried, now predicting from both sides (the
             turns inside and outside): units that are probably good are read, in reads that end
             before the probably bad ones.
4. scrape 1  failures the model does not explain (nothing failed at their angle on the turns
             around; on a DVD or BD, an ECC unit that also holds good sectors, where real damage
             takes the whole unit) are read alone once: likely flaky, and cheap to settle. Sector
             by sector, not those in a run of failures along the track that a failed read went
             on through (a ring's, a band's: unexplained by a radial model, and seldom read).
5. probe     every unit still untried is read once as a whole (one failed read per ECC block;
             on a CD the untried arc, going on after the sector that failed). Where the harvest
             read around single predicted-bad sectors (one or two a turn on a CD), one read goes
             on through the finished sectors to the next untried ones, so that a failure gives
             them all their first attempt, as a copy read does; each is then read alone, once.
             After a failure the next sector is read alone, as ddrescue trims.
5b. reprobe  DVD/BD: each failed ECC unit with no good sector is read whole again, `retries`
             times: a flaky unit (an edge of the damage, often) reads for one failed read a unit
             rather than one a sector.
6-7.         where the drive fails sector by sector (a CD; a DVD or BD drive that returns the good
             sectors of a failed block): every read still owed, one alone and `retries` retries
             a sector, in the order this disc's reads show likeliest (yieldorder.py: lone, edge,
             inner failed sectors, per attempt, rates learnt as the reads come in). Where the
             drive fails whole blocks:
6. scrape 2  every failed sector not yet read alone is read alone.
7. retry     `retries` passes over the bad sectors, alternating direction, FUA: first over the
             lone ones (a bad sector between good ones: flaky as often as not), then over the
             other edges of the damage (bad sectors beside good ones: marginal), then the rest.

A sector gets at least as many attempts as with the linear engine: a first failure (in a read of
several), one read alone, and the retries; a sector whose first attempt was a read alone is read
alone once more before it is BAD.

Granularity: some DVD and BD drives fail a whole ECC block when one sector of it is bad, others
return the sectors of the block whose EDC checks out. The engine starts from the ECC unit and
learns which drive it has from the reads (granularity.py): a failed unit whose sectors before the
failure read (the sense INFORMATION field said where), or a single sector read alone inside a
failed unit that succeeds, shows partial blocks; from then on the model and the reads work
sector by sector, as on a CD.

Budgets: a unit is read at most once per phase (the flaky phase: retries + 1 times, and only
for isolated failures), so no region eats more than its share while cheaper work remains. The
plan is a function of the map alone (the model re-learns from it), so a killed run resumes with
the same decisions. Every read's reason says which phase and which prediction asked for it.
"""
from __future__ import annotations

from .damage import DamageModel
from .geometry import Geometry
from .granularity import Granularity
from .engine import (FORWARD, REVERSE, Reader, Result, Settings, Sink, align_down, align_up, read_and_report,
                     read_other_drive_failures)
from .sectormap import SectorMap, State
from .settle import SettleMixin

HARVEST, FLAKY, ARCS = "harvest", "flaky", "arcs"
BOTH_SIDES = (-1, 1)
INWARDS = (-1,)


def settings_prior(settings: Settings) -> Geometry | None:
    """The spiral the disc's structure data gives (Settings.spiral_hint), else None (nominal)."""
    r0, pitch, velocity = settings.spiral_hint
    if r0 is None and pitch is None and velocity is None:
        return None
    return Geometry.from_structure(settings.family, r0_m=r0, pitch_m=pitch, velocity_m_s=velocity)


class AdaptiveEngine(SettleMixin):
    def __init__(self, reader: Reader, smap: SectorMap, sink: Sink, settings: Settings) -> None:
        self.reader, self.smap, self.sink, self.settings = reader, smap, sink, settings
        self.protected: set[int] = set()       # sectors the drive refused alone as copy-protected
        self.unit = max(1, settings.ecc_sectors)           # the failure unit: the ECC unit until learnt
        self.cluster = max(settings.cluster, self.unit)
        self.model = DamageModel(smap, settings.family, self.unit, turns=16, prior=settings_prior(settings))
        self.granularity = Granularity(self.unit)
        self._flaky_tried: set[int] = set()      # one flaky round per failure and run
        # sectors after the failed one in a failed read of several: the drive has tried them once
        # (this run only: a resumed run gives them one more attempt, never one fewer)
        self._touched: set[int] = set()

    def run(self) -> None:
        self._evidence(self.granularity.learn_from_map(self.smap))     # a resumed run: what the map shows
        # before the model learns: it must learn this drive's failures, not another drive's
        read_other_drive_failures(self.reader, self.smap, self.sink, self.settings, self.protected)
        self.model.learn(force=True)
        self._harvest()
        self._flaky(1)
        self._arcs(1, 0.5, BOTH_SIDES)
        self._arcs(2, 0.8, BOTH_SIDES)
        self._flaky(2)                  # failures the arcs have since shown to be alone
        states = (State.NON_TRIMMED, State.NON_SCRAPED)
        if self.settings.scrape:        # unexplained failures (likely flaky) before the probe
            self._scrape_pass(1, states, partial_only=True)
        self._probe()
        for n in range(1, self.settings.retries + 1):   # DVD/BD: flaky units whole, before their sectors alone
            self._reprobe(n)
        if self.settings.scrape and self.unit == 1:
            self._settle_by_yield()
        elif self.settings.scrape:
            self._scrape_pass(2, states, partial_only=False)
            # damage is marginal at its edges: the sectors beside good ones get their retries first
            # likeliest to read first: a lone failed sector between good ones (flaky, as often as
            # not), then the other edges of the damage, then its cores; tiers are fixed before the
            # first retry, so a resumed run makes the same ones from its map
            alone, edges = self._lone(), self._edges()
            edges -= alone
            pass_no = 0      # numbered on over the tiers that have sectors: one row a pass in the record
            for only, skip, tier in ((alone, frozenset(), "lone failed sectors"),
                                     (edges, frozenset(), None), (None, edges | alone, None)):
                if only is not None and not only:
                    continue
                for n in range(1, self.settings.retries + 1):
                    pass_no += 1
                    self._retry(pass_no, REVERSE if n % 2 else FORWARD, only=only, skip=skip, tier=tier)

    # -- reads ------------------------------------------------------------------------------------
    def _read(self, lba: int, count: int, phase: str, pass_no: int, reason: str, *, fua: bool = False) -> Result:
        """One READ; on success the sectors are finished. A failure changes nothing in the map:
        the caller says what it learnt."""
        return read_and_report(self.reader, self.smap, self.sink, lba, count, phase, pass_no, reason,
                               fail_state=None, fua=fua, protected=self.protected)

    def _mark_failed(self, lba: int, count: int, *, alone: bool = False) -> None:
        """Failed sectors: NON_SCRAPED the first time (a read alone is still owed, so a sector gets
        as many attempts as with the linear engine: a first failure, one alone, the retries), BAD
        once they fail again alone. `alone`: the failed read was of this sector only."""
        if alone and count == 1 and lba in self._touched and self.smap.state_at(lba) == State.UNTRIED:
            self.smap.set(lba, 1, State.BAD)     # its first failure was in a longer read: this was the alone one
            return
        for run in list(self.smap.runs(lba, lba + count)):
            if run.state == State.UNTRIED:
                self.smap.set(run.start, run.count, State.NON_SCRAPED)
            elif run.state in (State.NON_TRIMMED, State.NON_SCRAPED) and (count == 1 or alone):
                self.smap.set(run.start, run.count, State.BAD)

    def _locate(self, failed: Result, phase: str, pass_no: int, reason: str) -> int:
        """After a failed read of [lba, lba+count): find its first bad sector (INFORMATION, or
        bisection when the drive names none), read the good ones before it, mark it failed.
        Returns where the caller may go on (the unit after the failure)."""
        lba, count = failed.lba, failed.count
        info = getattr(failed.sense, "information", None)
        if info == 0 and lba == 0 and count > 1:
            info = None          # QEMU's ide-cd sets VALID with INFORMATION 0 after any failed READ
        if info is not None and lba <= info < lba + count:
            if info > lba:
                good = self._read(lba, info - lba, phase, pass_no, f"{reason}: the sectors before LBA {info}, "
                                  f"which the drive reported bad")
                if not good.ok:
                    return self._locate(good, phase, pass_no, reason)
                if info % self.unit:                  # good sectors of the unit that failed
                    self._evidence(self.granularity.partial(info))
            first = info
        else:
            lo, hi = lba, lba + count
            floor = 1 if self.granularity.wants_probe() else self.unit     # undecided: down to the sector
            while hi - lo > floor:
                mid = lo + max(floor, align_down((hi - lo) // 2, floor))
                half = self._read(lo, mid - lo, phase, pass_no,
                                  f"{reason}: bisecting {lo}-{hi - 1} (the drive named no failed LBA)")
                if half.ok:
                    lo = mid
                else:
                    hi = mid
            if hi - lo == 1 or self.unit == 1:
                first = lo
            else:                                # a unit failed whole and we do not know where
                self._mark_failed(lo, hi - lo)
                return hi
        self._mark_failed(first, 1, alone=count == 1 and first == lba)
        if count > 1:      # the drive tried the sectors after the failed one too: a first attempt each
            self._touched.update(range(first + 1, lba + count))
        if self.unit > 1:
            self._probe_granularity(first, min(align_down(first, self.unit) + self.unit, self.smap.sectors),
                                    phase, pass_no)
        return min(align_up(first + 1, self.unit), self.smap.sectors)

    # -- granularity: does this drive return the good sectors of a failed ECC unit? ---------------
    def _probe_granularity(self, failed: int, unit_end: int, phase: str, pass_no: int) -> None:
        """While undecided: the last sector of a failed unit read alone (a sector the failure did
        not name): a good read shows partial blocks, a failure counts for whole ones."""
        lba = unit_end - 1
        if not self.granularity.wants_probe() or lba <= failed or self.smap.state_at(lba) != State.UNTRIED:
            return
        why = f"granularity: inside the ECC unit that failed at LBA {failed}, alone"
        r = self._read(lba, 1, phase, pass_no, f"{why} (does this drive return the good sectors of a failed unit?)")
        if not r.ok:
            self._mark_failed(lba, 1, alone=True)
            self._evidence(self.granularity.whole(lba))
            return
        # a good sector: partial blocks, or a flaky unit that reads by now; the failed one tells
        again = self._read(failed, 1, phase, pass_no, f"{why}: LBA {lba} read, so is LBA {failed} still bad?")
        if not again.ok:
            self._mark_failed(failed, 1, alone=True)
            self._evidence(self.granularity.partial(lba, probed=True))

    def _evidence(self, decided: bool) -> None:
        """Once partial blocks are shown, the failure unit is the sector."""
        if decided and self.granularity.unit == 1 and self.unit != 1:
            self.unit = 1
            self.model.set_unit(1)

    # -- 1. harvest -------------------------------------------------------------------------------
    def _harvest(self) -> None:
        if not self.smap.count(State.UNTRIED):
            return
        s, smap, model = self.settings, self.smap, self.model
        self.sink.pass_started(HARVEST, 1, FORWARD)
        pos, skip, last_failure_end = 0, s.skip_initial, -1
        while (run := smap.next_run_of(State.UNTRIED, at=pos)) is not None:
            start = run.start
            end = min(run.end, align_down(start, self.cluster) + self.cluster)
            stop, why = self._first_likely_bad(start, end, INWARDS, harvest=True)
            if stop == start:
                pos = min(align_down(start, self.unit) + self.unit, smap.sectors)
                continue
            if stop is not None:
                end = stop
            reason = "harvest" if why is None else f"harvest: ends before LBA {stop}, predicted bad ({why})"
            result = self._read(start, end - start, HARVEST, 1, reason)
            if result.ok:
                pos, skip = end, s.skip_initial
                continue
            consecutive = start == last_failure_end
            pos = last_failure_end = self._locate(result, HARVEST, 1, reason)
            model.learn()
            if consecutive:                      # a bad ring or band: jump, as ddrescue does
                pos = min(align_up(pos + skip, self.unit), smap.sectors)
                skip = min(skip * 2, s.skip_max)
        self.sink.pass_ended(HARVEST, 1)

    def _first_likely_bad(self, start: int, end: int, directions, *, harvest: bool) -> tuple[int | None, str | None]:
        """The first LBA in [start, end) of a unit the model predicts bad, and why."""
        model = self.model
        if not model.near_damage(start, end):
            return None, None
        u = align_down(start, self.unit)
        while u < end:
            p = model.predict(u, self.unit, directions, share=not harvest)
            if (p.fraction > 0) if harvest else p.likely_bad:
                return max(u, start), p.because()
            u += self.unit
        return None, None

    # -- 2. flaky candidates ----------------------------------------------------------------------
    def _flaky(self, pass_no: int) -> None:
        tried = self._flaky_tried
        candidates = [r for r in self.smap.runs_of(State.NON_SCRAPED, State.NON_TRIMMED) if r.count <= self.unit
                      and r.start not in tried and self._isolated(r.start, r.end)]
        tried.update(r.start for r in candidates)
        if not candidates:
            return
        self.sink.pass_started(FLAKY, pass_no, FORWARD)
        for run in candidates:
            u = align_down(run.start, self.unit)
            block = (u, min(u + self.unit, self.smap.sectors))
            # sector by sector, one read now: its retries come with the other failures', in the
            # order the reads show likeliest (settle.py _settle_by_yield), not back to back
            attempts = 1 if self.unit == 1 and self.settings.scrape else self.settings.retries + 1
            for attempt in range(1, attempts + 1):
                again = ("read again alone (its retries come with the other failures')" if attempts == 1 else
                         f"its ECC unit again (attempt {attempt} of {attempts})")
                r = self._read(block[0], block[1] - block[0], FLAKY, pass_no,
                               f"flaky: isolated failure at LBA {run.start}, {again}", fua=True)
                if r.ok:
                    break
        self.sink.pass_ended(FLAKY, pass_no)

    def _isolated(self, start: int, end: int) -> bool:
        """Nothing failed or left untried beside it, nothing failed at its angle on the turns around."""
        lo = max(0, align_down(start, self.unit) - 2 * self.unit)
        hi = min(self.smap.sectors, align_down(end - 1, self.unit) + 3 * self.unit)
        own = (align_down(start, self.unit), align_down(end - 1, self.unit) + self.unit)
        for run in self.smap.runs(lo, hi):
            if run.state != State.FINISHED and not (run.start < own[1] and own[0] < run.end):
                return False
        geom = self.model.geom
        for d in (-1, 1):
            for k in range(1, 2 * self.model.turns + 2):
                y = geom.same_angle((start + end) / 2, d * k)
                if 0 <= y < self.smap.sectors and self.model.state_near(y, self.unit + 0.5) == 1:
                    return False
        return True

    # -- 3. arcs between predicted damage ------------------------------------------------------------
    def _arcs(self, pass_no: int, threshold: float, directions: tuple[int, ...]) -> None:
        """Untried units whose predicted badness is below `threshold`: pass 1 the probably good,
        pass 2 those the damage is split between (one of a pair is usually good)."""
        if not self.smap.count(State.UNTRIED):
            return
        self.model.learn(force=True)
        self.sink.pass_started(ARCS, pass_no, FORWARD)
        pos, last_failure_end = 0, -1
        while (run := self.smap.next_run_of(State.UNTRIED, at=pos)) is not None:
            start = run.start
            u = align_down(start, self.unit)
            if self._badness(u, directions) >= threshold:
                pos = min(u + self.unit, self.smap.sectors)
                continue
            end = min(run.end, align_down(start, self.cluster) + self.cluster)
            stop = next((v for v in range(u + self.unit, end, self.unit)
                         if self._badness(v, directions) >= threshold), None)
            if stop is not None:
                end = stop
            reason = (f"arcs pass {pass_no}: untried, predicted bad below {threshold:.0%}"
                      + (f"; ends before LBA {stop}, likelier bad" if stop is not None else ""))
            result = self._read(start, end - start, ARCS, pass_no, reason)
            if result.ok:
                pos = end
                continue
            consecutive = start == last_failure_end
            pos = last_failure_end = self._locate(result, ARCS, pass_no, reason)
            if consecutive and directions == BOTH_SIDES:
                # failures back to back inside an untried stretch: a band or a ring, likelier bad
                # on; leave its middle for the probe and come in from the far edge, as a trim
                self._trailing_edge(run.end, threshold, pass_no)
                pos = max(pos, run.end)
        self.sink.pass_ended(ARCS, pass_no)

    def _trailing_edge(self, run_end: int, threshold: float, pass_no: int) -> None:
        """Backwards from the end of an untried stretch, unit by unit, until a failure."""
        lba = run_end
        while lba > 0:
            u = align_down(lba - 1, self.unit)
            if self.smap.state_at(lba - 1) != State.UNTRIED or self._badness(u) >= threshold:
                return
            start = max(u, self.smap.next_run_of(State.UNTRIED, at=lba - 1, reverse=True).start)
            result = self._read(start, lba - start, ARCS, pass_no,
                                f"arcs pass {pass_no}: trailing edge of an untried stretch, backwards")
            if not result.ok:
                self._locate(result, ARCS, pass_no, f"arcs pass {pass_no}: trailing edge")
                return
            lba = start

    def _badness(self, u: int, directions: tuple[int, ...] = BOTH_SIDES) -> float:
        if not self.model.near_damage(u, u + self.unit):
            return 0.0
        p = self.model.predict(u, self.unit, directions)
        if p.source is None and p.fraction == 1.0:        # its ECC unit failed
            return 1.0
        return max(p.fraction, p.share)
