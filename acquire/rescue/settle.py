"""The adaptive engine's last phases: probe what is still untried, re-read failed ECC units whole,
scrape, retry (adaptive.py's docstring numbers them 5 to 7). A mixin of AdaptiveEngine, which
gives it _read, _locate, _mark_failed, the model and the map."""
from __future__ import annotations

from dataclasses import replace

from .engine import FORWARD, REVERSE, Result, align_down, sectors_in_order
from .sectormap import State
from .yieldorder import CHUNK, HOLD, PRIOR_RATE, PRIOR_WEIGHT, YieldQueue, YieldStats, class_at

PROBE, REPROBE, SCRAPE, RETRY = "probe", "reprobe", "scrape", "retry"
FAILED_STATES = (State.NON_TRIMMED, State.NON_SCRAPED, State.BAD)
OWED_ALONE = (State.UNTRIED, State.NON_TRIMMED, State.NON_SCRAPED)     # a read alone still owed
BOTH_SIDES = (-1, 1)
SECTOR_BYTES = 2048
BAND_RUN = 3                 # failed sectors in a row along the track: a band, not a scratch's crossing


def _likely(counts: tuple[int, int]) -> bool:
    """(good, reads) of a guess's reads: do they read at least half as often as a class not yet tried?"""
    good, reads = counts
    return (good + PRIOR_RATE * PRIOR_WEIGHT) / (reads + PRIOR_WEIGHT) >= PRIOR_RATE / 2


class SettleMixin:
    # -- 4. probe what is left, once --------------------------------------------------------------
    def _probe(self) -> None:
        if not self.smap.count(State.UNTRIED):
            return
        self.sink.pass_started(PROBE, 1, FORWARD)
        pos, failed_end = 0, -1
        while (run := self.smap.next_run_of(State.UNTRIED, at=pos)) is not None:
            start = run.start
            limit = self.cluster if self.unit == 1 else self.unit
            end = min(run.end, align_down(start, limit) + limit)
            if self.unit == 1 and start == failed_end and start in self._touched:
                end = start + 1     # right after a failure: alone, as ddrescue trims (a failure is then final)
            elif self.unit == 1 and start not in self._touched and (through := self._through_end(start)):
                pos = failed_end = self._probe_through(start, through)
                continue
            why = ("probe: right after a failure, alone" if end - start == 1 and start == failed_end else
                   f"probe: predicted bad, read once as a whole before scraping ({end - start} sectors)")
            result = self._read(start, end - start, PROBE, 1, why)
            if result.ok:
                pos = end
                continue
            if self.unit == 1:      # a CD fails sector by sector: the ones after the failure may be good
                pos = failed_end = self._locate(result, PROBE, 1, "probe")
                continue
            info = getattr(result.sense, "information", None)
            if info is not None and start < info < end:
                good = self._read(start, info - start, PROBE, 1, f"probe: the sectors before LBA {info}, "
                                  f"which the drive reported bad")
                if not good.ok:
                    self._mark_failed(start, info - start)
                self._mark_failed(info, end - info)
            else:
                self._mark_failed(start, end - start)
            pos = end
        self.sink.pass_ended(PROBE, 1)

    def _reprobe(self, pass_no: int) -> None:
        """Each failed ECC unit with no good sector read whole once more: a unit that failed on a
        flaky sector (an edge of the damage, often) reads now, for one failed read a unit rather
        than one a sector; what still fails is scraped after."""
        if self.unit == 1:
            return
        units = []
        for run in self.smap.runs_of(*FAILED_STATES):
            for u in range(align_down(run.start, self.unit), run.end, self.unit):
                end = min(u + self.unit, self.smap.sectors)
                if (not units or units[-1] != u) and not any(r.state in (State.FINISHED, State.UNTRIED)
                                                             for r in self.smap.runs(u, end)):
                    units.append(u)
        if not units:
            return
        self.sink.pass_started(REPROBE, pass_no, FORWARD)
        for u in units:
            end = min(u + self.unit, self.smap.sectors)
            self._read(u, end - u, REPROBE, pass_no, f"reprobe pass {pass_no}: the ECC unit failed whole, "
                       f"read whole again before its sectors alone", fua=True)
        self.sink.pass_ended(REPROBE, pass_no)

    def _through_end(self, start: int) -> int | None:
        """Where a probe read from the untried `start` may end to take in the untried sectors after
        it within `cluster` (the end of the last of them), when there are any beyond its own stretch."""
        run = self.smap.next_run_of(State.UNTRIED, at=start)
        limit = min(self.smap.sectors, start + self.cluster)
        end = None
        while run is not None and run.end < limit and (run := self.smap.next_run_of(State.UNTRIED, at=run.end)):
            if run.start >= limit:
                break
            end = min(run.end, limit)
        return end

    def _probe_through(self, start: int, end: int) -> int:
        """One read through the finished sectors between untried ones (the harvest read around
        predicted-bad sectors, one or two a turn on a CD): a failure gives every sector it touched
        its first attempt, as a linear copy read does, so that each is then read alone once and is
        final. Finished sectors are never delivered again. Returns where the probe goes on."""
        if self.protected and all(x in self.protected for x in range(start, end)):
            return start + 1
        why = f"probe: predicted bad, read with the untried sectors up to LBA {end - 1} (first attempts)"
        result = self.reader.read(start, end - start)
        if result.ok:
            self._deliver_untried(result, why)
            return end
        self.sink.failed(result, PROBE, 1, why)
        self.sink.progress(self.smap, PROBE)
        info = getattr(result.sense, "information", None)
        if info is None or not start <= info < end:    # unlocated: each untried one alone next
            self._touched.update(x for x in range(start, end) if self.smap.state_at(x) == State.UNTRIED)
            return start
        for run in list(self.smap.runs(start, info)):     # the drive passed these: read them now
            if run.state == State.UNTRIED:
                r = self._read(run.start, run.count, PROBE, 1, f"probe: before LBA {info}, which the drive reported bad")
                if not r.ok:
                    return self._locate(r, PROBE, 1, "probe")
        self._mark_failed(info, 1)
        self._touched.update(x for x in range(info + 1, end) if self.smap.state_at(x) == State.UNTRIED)
        return info + 1

    def _deliver_untried(self, result: Result, why: str) -> None:
        """A good read through finished sectors: only its untried stretches go to the sink (the
        first carries the read's drive time), the finished ones keep their first reading."""
        first = True
        for run in list(self.smap.runs(result.lba, result.lba + result.count)):
            if run.state == State.FINISHED:
                continue
            at = (run.start - result.lba) * SECTOR_BYTES
            part = replace(result, lba=run.start, count=run.count, data=result.data[at:at + run.count * SECTOR_BYTES],
                           duration_s=result.duration_s if first else 0.0)
            self.sink.good(part, PROBE, 1)
            self.smap.set(run.start, run.count, State.FINISHED)
            if result.marginal:
                self.sink.marginal(part, PROBE, 1, why)
            first = False
        self.sink.progress(self.smap, PROBE)

    # -- 5. scrape and 6. retry ---------------------------------------------------------------------
    def _scrape_pass(self, pass_no: int, states, *, partial_only: bool) -> None:
        if not self.smap.count(*states):
            return
        self.sink.pass_started(SCRAPE, pass_no, FORWARD)
        pos, reads, good = 0, 0, 0
        why = "a failure the damage model does not explain" if partial_only else "failed before"
        while (run := self.smap.next_run_of(*states, at=pos)) is not None:
            pos = run.end
            for lba in range(run.start, run.end):
                if partial_only and (not self._unexplained(lba) or self.unit == 1 and self._in_a_band(lba)):
                    continue
                if partial_only and self.unit == 1 and reads >= CHUNK and not _likely((good, reads)):
                    # "unexplained" is a guess about flakiness that this disc's reads have not borne
                    # out (a ring or a band is unexplained by a radial model): the rest come in yield order
                    self.sink.pass_ended(SCRAPE, pass_no)
                    return
                ok = self._read(lba, 1, SCRAPE, pass_no, f"scrape pass {pass_no}: {why}, now read alone").ok
                reads, good = reads + 1, good + ok
                if not ok:
                    self.smap.set(lba, 1, State.BAD)
        self.sink.pass_ended(SCRAPE, pass_no)

    def _unexplained(self, lba: int) -> bool:
        u = align_down(lba, self.unit)
        if self.unit > 1:
            return any(r.state == State.FINISHED for r in self.smap.runs(u, min(u + self.unit, self.smap.sectors)))
        return self.model.bad_samples(lba, 1, BOTH_SIDES)[0] == 0

    def _in_a_band(self, lba: int) -> bool:
        """Does the failure lie in a run of BAND_RUN or more failed sectors along the track that a
        failed read went on through (a neighbour it touched failed too)? That is damage that goes
        on along the track, a ring's or a band's, whose sectors seldom read on a second try; a
        scratch crosses a CD's track in one to three sectors. A radial model does not explain a
        ring, so without this scrape 1 spent its reads on one (the corpus's CD rings)."""
        smap = self.smap

        def failed(x: int) -> bool:
            return 0 <= x < smap.sectors and smap.state_at(x) in FAILED_STATES

        if not any(failed(x) and x in self._touched for x in (lba - 1, lba + 1)):
            return False
        run = 1
        for step in BOTH_SIDES:
            x = lba + step
            while run < BAND_RUN and failed(x):
                run, x = run + 1, x + step
        return run >= BAND_RUN

    def _edges(self) -> set[int]:
        """The bad sectors with a finished neighbour: the edges of the damage, likeliest flaky."""
        edges: set[int] = set()
        n = self.smap.sectors
        for run in self.smap.runs_of(State.BAD):
            if run.start > 0 and self.smap.state_at(run.start - 1) == State.FINISHED:
                edges.add(run.start)
            if run.end < n and self.smap.state_at(run.end) == State.FINISHED:
                edges.add(run.end - 1)
        return edges

    def _lone(self) -> set[int]:
        """The bad sectors alone between finished ones (or the disc's ends) that the damage model
        does not explain (the first sector at their angle on the turns around read good): a
        failure with no damage beside it, the likeliest of all to be flaky. (A sector of a narrow
        scratch can pass too, when the fitted angle is a sector off.)"""
        n = self.smap.sectors
        self.model.learn(force=True)
        return {run.start for run in self.smap.runs_of(State.BAD) if run.count == 1
                and (run.start == 0 or self.smap.state_at(run.start - 1) == State.FINISHED)
                and (run.end == n or self.smap.state_at(run.end) == State.FINISHED)
                and self._unexplained(run.start)}

    def _retry(self, pass_no: int, direction: str, *, only: set[int] | None = None,
               skip: set[int] = frozenset(), tier: str | None = None) -> None:
        """A retry pass over the bad sectors, FUA: `only` a tier (the lone ones, the edges), or
        all but `skip`."""
        if not self.smap.count(State.BAD) or only is not None and not only:
            return
        tier = tier or ("the edges of the damage" if only is not None else "the rest")
        self.sink.pass_started(RETRY, pass_no, direction)
        for lba in sectors_in_order(self.smap, (State.BAD,), reverse=direction == REVERSE):
            if (only is not None and lba not in only) or lba in skip:
                continue
            self._read(lba, 1, RETRY, pass_no, f"retry pass {pass_no}, {tier}", fua=True)
        self.sink.pass_ended(RETRY, pass_no)


    # -- 5-6 on a drive that fails sector by sector: in the order this disc's reads show likeliest --
    def _settle_by_yield(self) -> None:
        """The reads alone still owed (scrape) and the retries, class by class (yieldorder.py): each
        sector gets every read it is owed, one alone and `retries` more, FUA; only the order is
        learnt. A resumed run starts the count again from its map: more reads, never fewer."""
        retries = self.settings.retries
        left = {x: retries for run in self.smap.runs_of(State.UNTRIED, *FAILED_STATES)
                for x in range(run.start, run.end)}
        stats, queue = YieldStats(), YieldQueue()
        self._requeue(queue, left, list(left))
        numbers = {SCRAPE: 1, RETRY: 0}          # scrape 1 was before the probe
        current, pos = None, 0
        while queue:
            cls, attempt = self._next_bucket(queue, stats, current)
            phase = SCRAPE if attempt == 0 else RETRY
            if current != (cls, attempt):
                if current is not None:
                    self.sink.pass_ended(*pass_of)
                numbers[phase] += 1
                pass_of = (phase, numbers[phase])
                self.sink.pass_started(phase, numbers[phase], FORWARD)
                current = (cls, attempt)
            for lba in queue.take(current, pos, CHUNK):
                if queue.key_of.get(lba) != current:     # read, or moved on, by a stretch read just before
                    continue
                if attempt == 0 and (lba in self._touched or self.smap.state_at(lba) != State.UNTRIED):
                    found, pos, changed = self._scrape_stretch(lba, numbers[phase], cls, left)
                    if found is not None:
                        stats.add(cls, attempt, found)
                        self._requeue(queue, left, changed)
                        continue
                was_bad = self.smap.state_at(lba) == State.BAD
                what = (f"retry {attempt} of {retries}" if was_bad else "read alone")
                r = self._read(lba, 1, phase, numbers[phase],
                               f"{phase} pass {numbers[phase]}: {what}, {cls} failed sectors first (this disc's "
                               f"{cls} ones at this attempt expected to read at {stats.rate(cls, attempt):.0%})",
                               fua=was_bad)
                stats.add(cls, attempt, r.ok)
                pos = lba + 1
                if r.ok:
                    del left[lba]
                elif was_bad:
                    left[lba] -= 1
                else:
                    self._mark_failed(lba, 1, alone=True)
                self._requeue(queue, left, (lba - 1, lba, lba + 1) if r.ok else (lba,))
        if current is not None:
            self.sink.pass_ended(*pass_of)

    def _requeue(self, queue: YieldQueue, left: dict[int, int], lbas) -> None:
        """Each of `lbas` in the queue under its class and attempt now, or out of it (read, or owed nothing)."""
        retries = self.settings.retries
        for x in lbas:
            if not 0 <= x < self.smap.sectors:      # a neighbour of the disc's first or last sector
                continue
            state = self.smap.state_at(x)
            if x not in left or state == State.FINISHED or (state == State.BAD and left[x] <= 0):
                left.pop(x, None)
                queue.drop(x)
            else:
                attempt = retries - left[x] + 1 if state == State.BAD else 0
                queue.put(x, (class_at(self.smap, x), attempt))

    def _scrape_stretch(self, lba: int, pos_no: int, cls: str, left: dict[int, int]
                        ) -> tuple[bool | None, int, range]:
        """The read alone owed to a sector that failed in a read of several (or that one touched), as
        a read of the stretch of such sectors from it: the drive stops at the first sector it cannot
        read and names it (the sense INFORMATION field), so the good ones before it are read and it
        has had its read of its own, all for one failed READ, where reads alone fail once for each bad sector and read
        one good sector at a time (edge rot and dye fade leave good sectors among bad ones).
        Returns (whether it read any sector, where to go on, the sectors whose class or attempt may
        have changed), or (None, lba, ...) when the drive named no sector and it is to be read alone."""
        end = lba
        for run in self.smap.runs(lba, min(self.smap.sectors, lba + self.cluster)):
            if run.state not in OWED_ALONE:
                break
            end = run.end
        end = min(end, lba + self.cluster)
        if end - lba < 2:
            return None, lba, range(0)
        why = f"scrape pass {pos_no}: read alone owed, {cls} failed sectors first, as a read of the untried stretch"
        r = self._read(lba, end - lba, SCRAPE, pos_no, why)
        if r.ok:
            for x in range(lba, end):
                left.pop(x, None)
            return True, end, range(lba - 1, end + 1)
        info = getattr(r.sense, "information", None)
        if info is None or not lba <= info < end:
            return None, lba, range(0)
        if info > lba:
            if not self._read(lba, info - lba, SCRAPE, pos_no, f"{why}: the sectors before LBA {info}, which the "
                              f"drive reported bad").ok:
                return None, lba, range(0)        # read it alone: a failure then moves it on
            for x in range(lba, info):
                left.pop(x, None)
        # named by the drive: its own attempt (an untried one the failed read of several did not touch
        # is failed once now, and gets its read alone later)
        self._mark_failed(info, 1, alone=info in self._touched or self.smap.state_at(info) != State.UNTRIED)
        return info > lba, info + 1, range(lba - 1, info + 2)

    def _next_bucket(self, queue: YieldQueue, stats: YieldStats, current: tuple[str, int] | None) -> tuple[str, int]:
        """(class, attempt) to read next (attempt 0: the read alone still owed, n: the nth retry): in
        each class the sectors with the fewest reads so far, and of the classes the likeliest to
        read now; the current one is kept while it is within HOLD of the best, so that noise in
        small rates does not switch passes at every chunk."""
        lowest: dict[str, int] = {}
        for cls, attempt in queue.lists:
            lowest[cls] = min(lowest.get(cls, attempt), attempt)
        buckets = [(cls, attempt) for cls, attempt in lowest.items()]
        best = stats.best(buckets)
        if current in buckets and stats.rate(*current) * HOLD >= stats.rate(*best):
            best = current
        return best
