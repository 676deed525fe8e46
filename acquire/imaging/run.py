"""`acquire image`: one run's lifecycle, from the drive's identity to the sealed record, and every
way it can stop (done, Ctrl-C, SIGTERM, drive gone, medium changed, disk full).

The parts: resume.py (the record, new or reopened after the disc identity check), drive_settings.py
(speed and error recovery, restored at the end), sink.py (what the engine reports), checkpoint.py
(image bytes on the disk before the map says so).
"""
from __future__ import annotations

import dataclasses
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..drive.device import SECTOR_BYTES, Drive, Medium, open_drive
from ..drive.layout import RecordedLayout, build_layout, read_facts
from ..drive.structures import disc_geometry, identity_hashes, read_structures
from ..errors import (AcquireError, DriveConfused, DriveGone, Interrupted, MediumChanged, NoDisc, OutOfSpace,
                      RecordError, UsageError)
from ..hashing import Hashes, hash_file
from ..sumfiles import write_sfv, write_sum_files
from ..isowriter import IsoWriter
from ..storage import plan_image
from ..record import Record
from ..record.fs_tables import save_analysis
from ..rescue import make_engine
from ..rescue.engine import Settings
from ..rescue.budget import UNTIL, Budget, Estimate, Stopped
from ..rescue.sectormap import SETTLED, SectorMap, State
from ..seal import Sealed, Signer, resolve as resolve_signer, write_seal
from . import audio_step, confirm, incremental, layout_step
from .checkpoint import Checkpointer
from .continuation import other_drive_failures
from .drive_settings import DriveSettings
from .hygiene_run import not_tried_ranges, run_with_hygiene
from .resume import create_record, finished_in, open_for_resume
from .sink import Progress, RunSink

# what stops a run and leaves it resumable (exit 4); anything else that is an AcquireError fails it
RESUMABLE = (DriveGone, MediumChanged, NoDisc, DriveConfused)

# the content step after the copy: (image, map, session starts or None) -> an object with .volume (label, volume_id,
# volume_space_size, as_dict()), .analysis and .error (acquire.fs.describe.describe_image; imaging
# sits below fs, so the caller hands it in: acquire.api.acquire_image does)
Describe = Callable[[Path, SectorMap, list[int] | None], Any]


@dataclass(frozen=True, slots=True)
class ImageOptions:
    record: Path | None = None
    case_id: str | None = None
    evidence_id: str | None = None
    examiner: str | None = None
    notes: str | None = None
    retries: int = 1
    trim: bool = True
    scrape: bool = True
    speed: str | None = None          # "max" or a number (times 1x)
    strategy: str = "adaptive"        # acquire.rescue.STRATEGIES (the first is the default)
    command: str = ""
    sign_key: str | None = None       # PATH, agent: or agent:FINGERPRINT; None: ACQUIRE_SIGN_KEY, else unsigned
    second_read: bool = False         # re-read what was hard to read, keep it only if it agrees (confirm.py)
    incremental_from: Path | None = None   # an earlier record of this disc: reuse its sessions (incremental.py)
    read_offset: int | None = None    # audio: the drive's read offset in samples (else an earlier record, the table)
    read_offset_from: Path | None = None   # audio: an earlier record of this drive holding its offset
    audio_agree: int = 2              # audio: reads that must agree on a sample (audio/rip.py)
    audio_budget_s: float = 600.0     # audio: re-reads stop after this long on one track
    flac: bool = False                # audio: a FLAC beside each track's WAV
    max_drive_time_s: float | None = None   # --max-drive-time: stop once this much drive time is used
    until: str | None = None          # --until good: stop when only predicted-unreadable sectors remain
    hygiene: bool = True              # retry hygiene (rescue/hygiene.py): FUA re-reads, flush, pause, speed

    @property
    def budget(self) -> Budget:
        return Budget(self.max_drive_time_s, self.until)


@dataclass
class Outcome:
    image: Path
    record: Path
    sectors: int
    status: str                       # complete | partial | interrupted
    recovered: int
    unreadable: int
    unreadable_ranges: list[tuple[int, int]]
    hashes: dict[str, str]
    elapsed_s: float
    head_hash: str | None
    message: str = ""
    resumed: bool = False
    fallbacks: list[str] = field(default_factory=list)
    seal: Sealed | None = None        # None for an interrupted run: nothing to seal yet
    second_read: confirm.SecondRead | None = None   # None without --second-read
    stop_reason: str = "done"         # why the run stopped (runs.stop_reason)
    not_tried: list[tuple[int, int]] = field(default_factory=list)   # untried [first, last] ranges left
    not_recorded: int = 0             # sectors that hold no data by design (the layout's gaps)
    layout: dict | None = None        # RecordedLayout.as_dict()
    audio: dict | None = None         # audio_step.run_audio's summary: the BIN/CUE, tracks, unresolved samples

    @property
    def exit_code(self) -> int:
        return {"complete": 0, "partial": 3, "interrupted": 4}[self.status]

    def as_json(self) -> dict:
        return {
            "image": str(self.image), "record": str(self.record), "sectors": self.sectors,
            "sector_size": SECTOR_BYTES, "recovered": self.recovered, "unreadable": self.unreadable,
            "unreadable_ranges": [list(r) for r in self.unreadable_ranges], "hashes": self.hashes,
            "status": self.status, "elapsed_s": round(self.elapsed_s, 3), "chain_head": self.head_hash,
            "resumed": self.resumed, "message": self.message,
            "unstable": confirm.ranges(self.second_read.unstable) if self.second_read else [],
            "second_read": self.second_read.as_json() if self.second_read else None,
            "seal": str(self.seal.path) if self.seal else None,
            "seal_signature": str(self.seal.signature) if self.seal and self.seal.signature else None,
            "seal_sha256": self.seal.sha256 if self.seal else None,
            "seal_code": self.seal.code if self.seal else None,
            "signed_by": self.seal.fingerprint if self.seal else None,
            "stop_reason": self.stop_reason, "not_tried_ranges": [list(r) for r in self.not_tried],
            "not_recorded": self.not_recorded,
            "layout": self.layout,
            "audio": self.audio,
        }


def acquire_image(device: str, image: Path, options: ImageOptions,
                  on_progress: Callable[[Progress], None] | None = None, *,
                  describe: Describe | None = None) -> Outcome:
    """Image `device` into `image`, resuming from the record when it exists; `describe`, when
    given, reads the volume label and analyses the file systems before the run is sealed."""
    _check_options(options)
    record_path = options.record or image.with_name(image.name + ".custody.sqlite")
    # a record that finished nothing may have been stopped before its image was made: that resumes
    if record_path.exists() and not image.exists() and finished_in(record_path):
        raise RecordError(f"{record_path} exists but its image {image} does not",
                          hint="give the image the record belongs to, or another --record path")
    if image.exists() and not record_path.exists():
        raise UsageError(f"{image} exists and has no record at {record_path}",
                         hint="choose a new image path (acquire never overwrites an image it cannot account for)")
    # before the first READ: a key that cannot sign is found now, not after hours of imaging
    signer = resolve_signer(options.sign_key)
    drive = open_drive(device)
    try:
        drive.wait_ready()
        identity = drive.identify()
        if options.read_offset_from is not None:     # refused before any READ: its drive must be this one
            audio_step.offset_from(options.read_offset_from, identity)
        medium = drive.medium()
        if medium.capacity <= 0:
            raise NoDisc(f"the disc in {device} reports no sectors", hint="check the disc")
        facts = read_facts(drive, medium)
        layout = build_layout(facts)
        structures = read_structures(drive, medium)
        if layout.sectors != medium.capacity:      # READ CAPACITY stops short of what is recorded
            medium = dataclasses.replace(medium, capacity=layout.sectors)
            drive.allow_reads_to(layout.sectors)
        # everything this run will write, on each file system, before the first READ of the copy
        plan_image(image, record_path, medium.capacity, SECTOR_BYTES).check()
        resumed = record_path.exists()
        marks = identity_hashes(structures)
        earlier, sample = None, []
        if options.incremental_from is not None:      # refused before any record is made
            earlier = incremental.load(options.incremental_from)
            sample = incremental.check(earlier, layout, marks, drive)
        record = (open_for_resume(record_path, medium, drive, marks) if resumed
                  else create_record(record_path, options, medium, drive.identity_probe(medium.capacity), marks))
        try:
            run = Run(drive, record, image, medium, options, on_progress, resumed, describe, signer)
            run.layout, run.layout_raw, run.structures = layout, facts.raw, structures
            run.earlier, run.earlier_sample = earlier, sample
            return run.execute(identity)
        finally:
            record.close()
    finally:
        drive.close()


def _check_options(options: ImageOptions) -> None:
    if options.retries < 0:
        raise UsageError("--retries must be 0 or more")
    if options.max_drive_time_s is not None and options.max_drive_time_s <= 0:
        raise UsageError("--max-drive-time must be a positive duration", hint="e.g. --max-drive-time 90m")
    if options.until not in (None, *UNTIL):
        raise UsageError(f"--until {options.until!r} is not one of {', '.join(UNTIL)}")
    if options.speed not in (None, "max"):
        try:
            if float(options.speed) <= 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"--speed {options.speed!r} is not a number or 'max'", hint="e.g. --speed 8") from None


class Run:
    """One invocation of `acquire image` on an open drive and record."""

    def __init__(self, drive: Drive, record: Record, image: Path, medium: Medium, options: ImageOptions,
                 on_progress, resumed: bool, describe: Describe | None = None,
                 signer: Signer | None = None) -> None:
        self.drive, self.record, self.image_path, self.medium = drive, record, image, medium
        self.options, self.on_progress, self.resumed, self.describe = options, on_progress, resumed, describe
        self.signer = signer
        self.run_id = self.drive_id = 0
        stored = record.load_map()
        self.smap = SectorMap.from_runs(medium.capacity, stored) if stored else SectorMap(medium.capacity)
        self.fresh = not stored               # read in order from LBA 0: the hashes can be streamed
        self.sink: RunSink | None = None
        self.checkpoints: Checkpointer | None = None
        self.hashes: Hashes | None = None
        self.clock_at_start = drive.clock_s
        self.fallbacks_logged = 0
        self.read_times = confirm.ReadTimes(drive) if options.second_read else None
        self.second_read: confirm.SecondRead | None = None
        self.stopped: Stopped | None = None     # the budget ended the engine (rescue/budget.py)
        self.stop_reason = "done"
        self.layout: RecordedLayout | None = None          # acquire_image sets it (drive.layout)
        self.layout_raw: dict[str, str] = {}
        self.structures: dict = {}                        # drive.structures: ATIP, PFI, BCA, ...
        self.earlier: incremental.Earlier | None = None    # --incremental-from
        self.earlier_sample: list[dict] = []

    def execute(self, identity) -> Outcome:
        self._begin(identity)
        status, message = self._copy()
        if status == "interrupted":
            try:
                self.stop_reason = f"{'drive-confused' if 'confused' in message else 'interrupted'}: {message}"
                self.record.set_run_stop_reason(self.run_id, self.stop_reason)
                self.record.end_run(self.run_id, "interrupted")
            except AcquireError as exc:   # a full disk: the record stays unsealed, and says so on verify
                message = f"{message} (the record stays unsealed until the resume: {type(exc).__name__})"
            return self._outcome("interrupted", {}, message)
        return self._finish(status)

    # -- the three steps ---------------------------------------------------------------------------
    def _begin(self, identity) -> None:
        """The run, the drive and the disc, in the record before the first READ."""
        record = self.record
        self.identity = identity
        self.run_id = record.begin_run(command=self.options.command, device=self.drive.name)
        self.drive_id = record.add_drive(device=identity.device, vendor=identity.vendor, product=identity.product,
                                         revision=identity.revision, serial=identity.serial,
                                         inquiry_hex=identity.inquiry_hex,
                                         features=[f"{c:04X}" for c in self.medium.features])
        record.set_run_drive(self.run_id, self.drive_id)
        if self.options.budget.limited:
            record.set_run_budget(self.run_id, json.dumps(self.options.budget.as_dict(), sort_keys=True))
        self._log_fallbacks()
        record.log_event(self.run_id, "disc-in-drive", drive_id=self.drive_id, profile=self.medium.profile_name,
                         capacity=self.medium.capacity, finished=self.smap.count(State.FINISHED),
                         identity_checked=self.resumed)

    def _copy(self) -> tuple[str, str]:
        """The engine over the image: (status, message); resumable stops end here, others raise."""
        status, message = "interrupted", ""
        settings = DriveSettings(self.drive, self.record, self.run_id, speed=self.options.speed,
                                 family=self.medium.family)
        previous_handler = _sigterm_as_interrupt()
        try:
            with IsoWriter(self.image_path, self.medium.capacity) as writer:
                self._open_sink(writer)
                try:
                    writer.preallocate()
                    settings.apply()
                    self._log_fallbacks()
                    if self.earlier is not None:
                        incremental.mark_known(self.earlier, self.smap)
                    if self.layout is not None:     # the gaps are never work for an engine
                        self.layout = layout_step.prepare(self.drive, self.record, self.run_id, self.smap,
                                                          self.layout, self.layout_raw, self.structures)
                        self._log_fallbacks()
                    if self.earlier is not None:    # the earlier sessions from the earlier image
                        copied = incremental.seed(self.earlier, self.smap, self.sink)
                        self.record.log_event(self.run_id, "incremental",
                                              **incremental.summary(self.earlier, self.earlier_sample, copied))
                    self._run_engine()
                    self._log_fallbacks()         # what the drive refused of the retry hygiene
                    self.sink.end_pass()
                    if self.options.second_read and self.stopped is None:
                        self.second_read = confirm.second_read(self.drive, self.record, self.run_id, self.smap,
                                                               writer, self.sink, self.read_times)
                    self._fill_unreadable(writer)
                    self.checkpoints.checkpoint()
                    status = "complete" if self.smap.count(*SETTLED) == self.smap.sectors else "partial"
                except (KeyboardInterrupt, Interrupted):
                    message = "interrupted by the user; run the same command to resume"
                except RESUMABLE as exc:
                    message = f"{exc}" if "resume" in str(exc) else f"{exc}; run the same command to resume"
                except OutOfSpace as exc:
                    message = str(exc)
                except AcquireError as exc:
                    status = "failed"
                    self._stop_safely(f"failed: {exc}")
                    self.record.set_run_stop_reason(self.run_id, f"failed: {exc}")
                    self.record.end_run(self.run_id, "failed")
                    raise
                finally:
                    if status == "interrupted":
                        self._stop_safely(message)
                    self.checkpoints.shutdown()
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            settings.undo()
        return status, message

    def _finish(self, status: str) -> Outcome:
        """Hashes, the volume label, the analysis, the record's seal, the signed seal file and the sum files."""
        hashes = self._hashes()
        try:
            audio = audio_step.run_audio(self) if audio_step.has_audio(self.layout) else None
        except (KeyboardInterrupt, Interrupted, *RESUMABLE) as exc:   # the data is safe; the audio goes on (audio/parts.py, journal.py)
            message = audio_step.stopped(exc)
            self.record.log_event(self.run_id, "interrupted", reason=message, finished=self.smap.count(State.FINISHED))
            self.record.end_run(self.run_id, "interrupted")
            return self._outcome("interrupted", {}, message)
        if audio and audio["unresolved_samples"] and status == "complete":
            status = "partial"                 # samples no reads agreed on: exit 3, like unreadable sectors
        self._describe()
        if self.layout is not None:
            layout_step.check_volume_sizes(self.image_path, self.smap, self.layout, self.record, self.run_id)
        self.record.log_event(self.run_id, "hashes", **hashes)
        self.record.set_run_stop_reason(self.run_id, self.stop_reason)
        self.record.end_run(self.run_id, status)
        # the seal file commits to the chain head end_run left; its outcome is chained (and sealed) after
        sealed = write_seal(self.record, self.run_id, self.image_path, self.signer)
        head = self.record.head_hash()
        comments = (f"acquire {__version__} image of {self.medium.capacity} sectors, status {status}",
                    f"record {self.record.path.name} chain head {head}")
        write_sum_files(self.image_path, self.hashes, comment_lines=comments)
        write_sfv(self.image_path, self.hashes, comment_lines=comments)
        outcome = self._outcome(status, hashes, sealed.note)
        if self.stopped is not None:
            outcome.message = (f"stopped: {self.stopped.detail}; {self.smap.count(State.UNTRIED)} sectors not tried, "
                               f"run the same command to go on" + (f" ({sealed.note})" if sealed.note else ""))
        outcome.seal = sealed
        outcome.audio = audio
        return outcome

    # -- the engine --------------------------------------------------------------------------------
    def _open_sink(self, writer: IsoWriter) -> None:
        self.checkpoints = Checkpointer(writer, self.record,
                                        lambda: ((r.start, r.count, int(r.state)) for r in self.smap.runs()),
                                        before_snapshot=lambda: self.sink.flush_provenance())
        self.sink = RunSink(self.record, self.run_id, self.drive_id, self.smap, writer, self.checkpoints,
                            lambda: self.drive.clock_s, stream_hash=self.fresh, on_progress=self.on_progress)

    def _run_engine(self) -> None:
        o = self.options
        settings = Settings.for_medium(self.medium.capacity, self.medium.ecc_sectors, self.medium.family,
                                       retries=o.retries, trim=o.trim, scrape=o.scrape,
                                       prior_failures=other_drive_failures(self.record, self.drive_id, self.smap),
                                       spiral_hint=disc_geometry(self.structures))
        self.sink.estimate = Estimate(self.medium.ecc_sectors, o.retries)
        reader = self.read_times or self.drive
        if not o.hygiene and not o.budget.limited:
            make_engine(o.strategy, reader, self.smap, self.sink, settings).run()
            return
        self.stopped = run_with_hygiene(self, reader, settings)
        if self.stopped is not None:
            self.stop_reason = f"{self.stopped.reason}: {self.stopped.detail}"

    def _log_fallbacks(self) -> None:
        """Each command the drive refused, and what we did instead, as a 'fallback' event."""
        for note in self.drive.fallbacks[self.fallbacks_logged:]:
            self.record.log_event(self.run_id, "fallback", refused=note)
        self.fallbacks_logged = len(self.drive.fallbacks)

    def _stop_safely(self, message: str) -> None:
        """Commit what is durable; never let the map claim data that may not be on disk."""
        self.sink.stop_streaming()
        try:
            self.sink.end_pass()
            self.checkpoints.checkpoint()
            self.record.log_event(self.run_id, "interrupted", reason=message,
                                  finished=self.smap.count(State.FINISHED))
        except (AcquireError, OSError):
            # what was not committed is read again on resume, never trusted
            self.record.discard_staged()
            self.sink.forget_pass()

    def _fill_unreadable(self, writer: IsoWriter) -> None:
        for run in self.smap.runs():
            if run.state != State.FINISHED:
                writer.zero(run.start, run.count)

    def _outcome(self, status: str, hashes: dict, message: str) -> Outcome:
        bad_runs = [(r.start, r.end - 1) for r in self.smap.runs() if r.state not in SETTLED]
        finished = self.smap.count(State.FINISHED)
        not_recorded = self.smap.count(State.NOT_RECORDED)
        return Outcome(self.image_path, self.record.path, self.medium.capacity, status, finished,
                       self.medium.capacity - finished - not_recorded, bad_runs if status != "interrupted" else [],
                       hashes, self.drive.clock_s - self.clock_at_start, self.record.head_hash(), message,
                       self.resumed, list(self.drive.fallbacks), second_read=self.second_read,
                       stop_reason=self.stop_reason, not_tried=not_tried_ranges(self.smap),
                       not_recorded=not_recorded, layout=self.layout.as_dict() if self.layout else None)

    # -- after the copy --------------------------------------------------------------------------------
    def _hashes(self) -> dict[str, str]:
        streamed = self.sink.streamed_hasher(self.medium.capacity)
        hashes = streamed.finish() if streamed is not None else hash_file(self.image_path)
        self.hashes = hashes
        self.record.set_hashes(hashes.as_dict(), hashes.size,
                               (w.row() for w in hashes.windows))
        self.record.commit()
        return hashes.as_dict()

    def _describe(self) -> None:
        """The volume label and the file systems, stored in the record before end_run seals it."""
        if self.describe is None:
            return
        # the layout's sessions (the TOC and track information), not a scan of the image: a session
        # further past the one before than the scan looks, or after an audio session, is still analysed
        starts = self.layout.data_session_starts() if self.layout is not None else None
        found = self.describe(self.image_path, self.smap, starts or None)
        pvd = found.volume
        if pvd is not None:
            self.record.update_medium(volume_label=pvd.volume_id, volume_json=json.dumps(pvd.as_dict()))
            if pvd.volume_space_size != self.medium.capacity:
                self.record.log_event(self.run_id, "volume-size-mismatch", volume_space_size=pvd.volume_space_size,
                                      capacity=self.medium.capacity)
        if found.analysis is not None:
            save_analysis(self.record, found.analysis, run_id=self.run_id)
        else:
            self.record.log_event(self.run_id, "fs-analysis-failed", error=found.error)


def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise Interrupted("terminated by a signal", hint="run the same command to resume")
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:                   # not the main thread
        return signal.getsignal(signal.SIGTERM)
