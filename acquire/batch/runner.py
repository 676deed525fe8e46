"""`acquire batch`: the queue worked through on every drive of a changer at once, one thread per
drive, each disc acquired in a process of its own (worker.py) into its own folder.

The order of things for one disc, each step logged (log.py) before or after it acts, so that a
batch killed at any instant and started again knows where every disc is:
  load (logged first) -> identity check -> start -> verdict (logged first) -> unload to the pile -> unload.
Loading and the identity check happen one drive at a time, under one lock: the stack is one, and
pairing each disc with the next job in a fixed order keeps a restarted batch's pairing the same.
Nothing one disc does (a bad medium, a drive gone, a hang, a full disk, a bug) stops the others.
"""
from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AcquireError, UsageError
from .changer import (ChangerError, ChangerGone, DiscMissing, FixedDrives, LoadFailed, OperatorChanger, OperatorQuit,
                      StackEmpty)
from .display import Display, progress_text
from .identity import IdentityTimeout, mismatches, read_identity_within, which_job
from .log import BatchLog, Replay, apply, manifest_rows, replay, write_manifest
from .queue import Job
from .verdict import Rule, Verdict, from_result
from .worker import run_disc

LOG_NAME, MANIFEST_NAME = "batch.sqlite", "manifest.csv"
NOT_IN_STACK = "none"                 # the pile of a disc that never reached a drive


@dataclass(frozen=True, slots=True)
class BatchOptions:
    output: Path
    rule: Rule = Rule()
    budget_s: float = 4 * 3600.0      # per disc, unless its job says otherwise
    stall_s: float = 600.0            # no progress from a drive for this long: hung
    max_hangs: int = 2                # a drive hung on this many discs in a row takes no more
    examiner: str | None = None
    command: str = ""


@dataclass(frozen=True, slots=True)
class BatchResult:
    manifest: Path
    log: Path
    counts: dict[str, int]            # verdict -> discs
    piles: dict[str, int]
    unfinished: int
    elapsed_s: float
    stopped: str | None = None

    @property
    def exit_code(self) -> int:
        if self.stopped or self.unfinished:
            return 4
        return 0 if self.piles.get("reject", 0) + self.piles.get(NOT_IN_STACK, 0) == 0 else 3


def run_batch(jobs: list[Job], changer, options: BatchOptions, display: Display | None = None) -> BatchResult:
    options.output.mkdir(parents=True, exist_ok=True)
    log = BatchLog(options.output / LOG_NAME)
    try:
        ids = json.dumps([j.id for j in jobs])
        log.set_meta("queue", ids)
        if log.meta("queue") != ids:
            raise UsageError(f"{options.output} holds a batch of another queue",
                             hint="give the queue it was started with, or another output folder")
        batch = _Batch(jobs, changer, options, log, display or Display([n for n, _ in changer.drives()], live=False))
        return batch.run()
    finally:
        log.close()


class _Batch:
    def __init__(self, jobs, changer, options: BatchOptions, log: BatchLog, display: Display) -> None:
        self.jobs, self.changer, self.options, self.log, self.display = jobs, changer, options, log, display
        self.by_id = {j.id: j for j in jobs}
        self.state: Replay = replay(log.events())
        self.feed = threading.Lock()        # one stack: loads and identity checks one at a time
        self.stopping: str | None = None
        self.stack_empty = False
        self.last_reason: dict[str, str] = {}    # drive -> its latest verdict's reason, this run

    # -- the batch ---------------------------------------------------------------------------
    def run(self) -> BatchResult:
        started = time.monotonic()
        drives = self.changer.drives()
        self._event("batch-start", jobs=len(self.jobs), drives=[n for n, _ in drives], rule=str(self.options.rule),
                    finished_before=len(self.state.verdicts), command=self.options.command)
        threads = [threading.Thread(target=self._drive, args=(name, device), name=f"drive {name}", daemon=True)
                   for name, device in drives]
        previous = self._on_sigint()
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if not self.stopping and self.stack_empty:
            for job in self._pending():        # discs the queue has and the stack had not
                self._verdict(job, "", Verdict("refused", "not in the input stack: the stack ran out before it"),
                              NOT_IN_STACK, {})
        self._manifest()
        counts = {v: sum(1 for d in self.state.verdicts.values() if d["verdict"] == v)
                  for v in ("complete", "partial", "failed", "refused")}
        piles: dict[str, int] = {}
        for d in self.state.verdicts.values():
            piles[d["pile"]] = piles.get(d["pile"], 0) + 1
        unfinished = sum(1 for j in self.jobs if j.id not in self.state.verdicts)
        self._event("batch-end", counts=counts, piles=piles, unfinished=unfinished, stopped=self.stopping)
        self.log.seal()
        return BatchResult(self.options.output / MANIFEST_NAME, self.log.path, counts, piles, unfinished,
                           time.monotonic() - started, self.stopping)

    def _on_sigint(self):
        """Ctrl-C sets `stopping` (each drive then pauses its disc, resumable) instead of raising in
        the main thread: a KeyboardInterrupt inside Thread.join can leave a running thread marked
        as ended (CPython gh-90882), and the batch would end before its drives. None: not the main
        thread, no handler installed."""
        def stop(signum, frame) -> None:
            self.stopping = self.stopping or "interrupted (Ctrl-C)"
        try:
            return signal.signal(signal.SIGINT, stop)
        except ValueError:
            return None

    def _event(self, kind: str, **details: Any) -> str:
        h = self.log.append(kind, **details)
        apply(self.state, kind, details)
        return h

    def _pending(self) -> list[Job]:
        return [j for j in self.jobs if j.id not in self.state.claimed]

    def _manifest(self) -> None:
        write_manifest(self.options.output / MANIFEST_NAME, manifest_rows(self.jobs, self.state.verdicts))

    # -- one drive ---------------------------------------------------------------------------
    def _drive(self, drive: str, device: str) -> None:
        hangs = 0
        while not self.stopping:
            try:
                job = self._next(drive, device)
                if job is None:
                    break
                if job is not False:
                    self._image(drive, device, job)
                hangs = hangs + 1 if self._hung(drive) else 0
                self.last_reason.pop(drive, None)
                if self.options.max_hangs and hangs >= self.options.max_hangs:
                    self._event("drive-retired", drive=drive, hangs=hangs)
                    self.display.note(f"{drive}: hung on {hangs} discs in a row: it takes no more "
                                      "(power-cycle it, then run the batch again)")
                    break
            except (OperatorQuit, ChangerGone) as exc:
                self.stopping = str(exc)
            except Exception as exc:     # noqa: BLE001 - never let one disc stop the other drives
                self.display.note(f"{drive}: internal error {exc!r}; this drive goes on with the next disc")
                if not self._rescue(drive, f"internal error: {exc!r}"):
                    break
        self.display.update(drive, "stopped" if self.stopping else "done")

    def _hung(self, drive: str) -> bool:
        """Whether this drive's latest verdict (this run) says it hung."""
        return self.last_reason.get(drive, "").startswith("hung:")

    def _next(self, drive: str, device: str):
        """Under the feed lock: the job whose disc is now in `drive`, identity checked; False when
        that disc was dealt with (did not load, refused); None when there is nothing left."""
        with self.feed:
            if self.stopping:
                return None
            held = self.state.on_drive.get(drive)
            if held is not None and held in self.state.verdicts:          # killed before its unload
                self._unload(drive, self.by_id[held], self.state.verdicts[held]["pile"])
                return False
            if held is not None and self.changer.tray(drive):              # the disc in progress: resume
                job = self.by_id[held]
                self.display.note(f"{drive}: {job.id} is still in the drive: resuming it")
            else:
                job = self.by_id[held] if held is not None else next(iter(self._pending()), None)
                if job is None or self.stack_empty:
                    return None
                self._event("load", job=job.id, drive=drive)
                self.display.update(drive, f"loading {job.id}")
                try:
                    self.changer.load(drive, job.describe())
                except StackEmpty:
                    self.stack_empty = True
                    self._event("stack-empty", job=job.id, drive=drive)
                    return None
                except LoadFailed as exc:
                    self._finish(drive, job, Verdict("failed", f"did not load: {exc}"), {})
                    return False
                except DiscMissing as exc:
                    self._missing(drive, job, str(exc))
                    return False
                except ChangerGone:
                    raise
                except ChangerError as exc:
                    self._finish(drive, job, Verdict("failed", f"the changer failed: {exc}"), {})
                    return False
            if isinstance(self.changer, FixedDrives):
                device = job.device or device
                if not device:
                    self._finish(drive, job, Verdict("refused", "the queue names no device for this disc"), {})
                    return False
            return job if self._identified(drive, device, job) else False

    def _identified(self, drive: str, device: str, job: Job) -> bool:
        """Whether the disc in the drive is the job's; if not, it (and the job it is) are refused."""
        while True:
            try:
                found = read_identity_within(device, self.options.stall_s)
            except IdentityTimeout as exc:
                self._finish(drive, job, Verdict("failed", f"hung: {exc}"), {})
                return False
            except AcquireError as exc:
                self._finish(drive, job, Verdict("failed", f"cannot identify the disc: {exc}"), {})
                return False
            wrong = mismatches(job, found)
            self._event("identity", job=job.id, drive=drive, found=found.as_dict(), mismatches=wrong)
            if not wrong:
                return True
            other = which_job(found, [j for j in self.jobs if j.id != job.id])
            said = f"it is {other.id}" if other else f"it reads as {found}"
            if isinstance(self.changer, OperatorChanger):
                answer = self.display.ask(f"The disc in {device} is not {job.id} ({'; '.join(wrong)}): {said}. "
                                          f"Take it out, insert {job.id}, then press Enter (s: it is missing) ")
                if answer.strip().lower() in ("q", "quit"):
                    raise OperatorQuit("stopped at the operator's request", hint="run the same command to resume")
                if answer.strip().lower() in ("s", "skip"):
                    self._missing(drive, job, "the operator could not find the disc")
                    return False
                continue
            if other is not None and other.id not in self.state.claimed:
                # its disc leaves with this drive's tray: no load or unload of its own (a restart
                # between the two verdicts finds this drive still on `job`, and refuses it again)
                self._verdict(other, drive, Verdict("refused", f"found in the drive in place of {job.id}: two "
                                                    "discs picked at once, or a stack out of order; feed it again"),
                              "reject", {})
            self._finish(drive, job, Verdict("refused", "the disc in the drive is not this one "
                                                       f"({'; '.join(wrong)}; {said})"), {})
            return False

    def _image(self, drive: str, device: str, job: Job) -> None:
        folder = self.options.output / job.id
        spec = {"device": job.device if isinstance(self.changer, FixedDrives) else device,
                "image": f"{job.id}.iso", "command": self.options.command,
                "options": {"case": job.case, "evidence": job.evidence, "examiner": job.examiner or self.options.examiner,
                            "notes": job.notes, "retries": job.retries, "speed": job.speed, "strategy": job.strategy,
                            "no_trim": job.no_trim, "no_scrape": job.no_scrape, "second_read": job.second_read}}
        self._event("start", job=job.id, drive=drive, folder=job.id)
        self.display.update(drive, f"{job.id}: starting")
        run = run_disc(spec, folder, budget_s=job.budget_s or self.options.budget_s, stall_s=self.options.stall_s,
                       on_progress=lambda p: self.display.update(drive, f"{job.id}: {progress_text(p)}"),
                       should_stop=lambda: self.stopping is not None)
        verdict = Verdict("failed", run.stopped) if run.stopped else from_result(run.exit_code, run.result)
        if self.stopping and verdict.verdict not in ("complete", "partial"):
            self._event("paused", job=job.id, drive=drive)   # stopped by the batch: no verdict, the next run resumes it
            return
        with self.feed:
            self._finish(drive, job, verdict, self._facts(job, run.result))

    def _facts(self, job: Job, result: dict | None) -> dict[str, Any]:
        folder = self.options.output / job.id
        image, record = folder / f"{job.id}.iso", folder / f"{job.id}.iso.custody.sqlite"
        facts: dict[str, Any] = {}
        outcome = (result or {}).get("outcome") or {}
        if outcome:
            facts.update(sectors=outcome["sectors"], unreadable=outcome["unreadable"],
                         hashes={k: outcome["hashes"][k] for k in ("md5", "sha1", "sha256") if k in outcome["hashes"]})
        if image.exists():
            facts["image"] = f"{job.id}/{image.name}"
        if record.exists():
            facts["record"] = f"{job.id}/{record.name}"
            facts["chain_head"] = outcome.get("chain_head") or _record_head(record)
        reports = (result or {}).get("reports")
        if isinstance(reports, list) and reports:
            facts["report"] = f"{job.id}/{reports[0]}"
        return facts

    # -- verdicts and piles ----------------------------------------------------------------------
    def _finish(self, drive: str, job: Job, verdict: Verdict, facts: dict[str, Any]) -> None:
        pile = self.options.rule.pile(verdict.verdict, facts.get("unreadable"))
        self._verdict(job, drive, verdict, pile, facts)
        self._unload(drive, job, pile)

    def _verdict(self, job: Job, drive: str, verdict: Verdict, pile: str, facts: dict[str, Any]) -> None:
        self._event("verdict", job=job.id, drive=drive, verdict=verdict.verdict, reason=verdict.reason, pile=pile,
                    **facts)
        self.last_reason[drive] = verdict.reason
        self._manifest()
        self.display.note(f"{job.id:<12} {verdict.verdict:<8} -> {pile:<6} {verdict.reason}"
                          + (f"  [{drive}]" if drive else ""))

    def _missing(self, drive: str, job: Job, reason: str) -> None:
        """A job whose disc is not to be had: refused, on no pile, nothing to unload."""
        self._verdict(job, drive, Verdict("refused", reason), NOT_IN_STACK, {})
        self._event("unload", job=job.id, drive=drive, pile=NOT_IN_STACK)

    def _unload(self, drive: str, job: Job, pile: str) -> None:
        try:
            self.changer.unload(drive, pile, job.describe())
        except ChangerGone:
            raise
        except ChangerError as exc:
            self.display.note(f"{drive}: could not unload {job.id} to {pile}: {exc}; take it out by hand")
        self._event("unload", job=job.id, drive=drive, pile=pile)
        self.display.update(drive, "idle")

    def _rescue(self, drive: str, reason: str) -> bool:
        """After an unexpected error: the disc in the drive, if any, gets its verdict and the reject
        pile. False: that failed too, and this drive stops (the others go on)."""
        held = self.state.on_drive.get(drive)
        if held is None:
            return True
        try:
            with self.feed:
                if held not in self.state.verdicts:
                    self._verdict(self.by_id[held], drive, Verdict("failed", reason), "reject", {})
                self._unload(drive, self.by_id[held], self.state.verdicts[held]["pile"])
            return True
        except Exception as exc:         # noqa: BLE001
            self.display.note(f"{drive}: {exc!r} while rejecting {held}; this drive stops")
            return False


def _record_head(record: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        return row[0] if row else None
    except sqlite3.Error:
        return None
