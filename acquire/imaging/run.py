"""`acquire image`: the rescue engine wired to the image, the hashes and the record.

The order of durability is the point of this module: image bytes are fdatasync'ed before the
record's map says they are finished, and every way a run can stop (done, Ctrl-C, drive gone,
disk full) ends with the map committed, the run closed and the record sealed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import __version__
from .drive.device import Drive, Medium, ReadResult, SECTOR_BYTES, open_drive
from .drive import mmc
from .errors import (AcquireError, DriveGone, Interrupted, MediumChanged, NoDisc, OutOfSpace, RecordError,
                     UsageError, WrongDisc)
from .fs.analyze import analyze_image
from .fs.volume import PVD_LBA, parse_primary_volume
from .hashing import Hashes, StreamHasher, hash_file, write_sum_files
from .image import ImageWriter
from .record import Record
from .record.fs_tables import save_analysis
from .rescue import make_engine
from .rescue.engine import Settings
from .rescue.sectormap import SectorMap, State

CHECKPOINT_BYTES = 32 << 20          # commit the map at least every 32 MiB of new data ...
CHECKPOINT_WALL_S = 2.0              # ... or every 2 s of wall time, whichever comes first
PROGRESS_WALL_S = 0.2


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


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str
    pass_no: int
    sectors: int
    finished: int
    bad: int
    untried: int
    drive_time_s: float
    bytes_read: int


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
        }


def acquire_image(device: str, image: Path, options: ImageOptions,
                  on_progress: Callable[[Progress], None] | None = None) -> Outcome:
    """Image `device` into `image`, resuming from the record when it exists."""
    _check_options(options)
    record_path = options.record or image.with_name(image.name + ".custody.sqlite")
    # a record that finished nothing may have been stopped before its image was made: that resumes
    if record_path.exists() and not image.exists() and _finished_in(record_path):
        raise RecordError(f"{record_path} exists but its image {image} does not",
                          hint="give the image the record belongs to, or another --record path")
    if image.exists() and not record_path.exists():
        raise UsageError(f"{image} exists and has no record at {record_path}",
                         hint="choose a new image path (acquire never overwrites an image it cannot account for)")
    drive = open_drive(device)
    try:
        drive.wait_ready()
        identity = drive.identify()
        medium = drive.medium()
        if medium.capacity <= 0:
            raise NoDisc(f"the disc in {device} reports no sectors", hint="check the disc")
        ImageWriter.check_space(image, medium.capacity * SECTOR_BYTES)
        resumed = record_path.exists()
        record = (_open_for_resume(record_path, medium, drive) if resumed
                  else _create_record(record_path, options, medium, drive.identity_probe(medium.capacity)))
        run = _Run(drive, record, image, medium, options, on_progress, resumed)
        try:
            return run.execute(identity)
        finally:
            record.close()
    finally:
        drive.close()


def _finished_in(record_path: Path) -> int:
    record = Record.open(record_path)
    try:
        return sum(count for _, count, state in record.load_map() if state == State.FINISHED)
    finally:
        record.close()


def _check_options(options: ImageOptions) -> None:
    if options.retries < 0:
        raise UsageError("--retries must be 0 or more")
    if options.speed not in (None, "max"):
        try:
            if float(options.speed) <= 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"--speed {options.speed!r} is not a number or 'max'", hint="e.g. --speed 8") from None


def _medium_identity(medium: Medium, probe: tuple[int, int, str] | None) -> dict:
    return {"capacity": medium.capacity, "profile": medium.profile, "toc": medium.toc_summary(),
            "probe": list(probe) if probe else None}


def _create_record(path: Path, options: ImageOptions, medium: Medium, probe) -> Record:
    record = Record.create(path, case_id=options.case_id, evidence_id=options.evidence_id,
                           examiner=options.examiner, notes=options.notes, tool_version=__version__)
    record.set_medium(profile=medium.profile, profile_name=medium.profile_name, capacity=medium.capacity,
                      sector_size=SECTOR_BYTES, toc_json=json.dumps(medium.toc_summary()),
                      disc_information_json=json.dumps(medium.disc_information_summary()),
                      identity=json.dumps(_medium_identity(medium, probe), sort_keys=True),
                      volume_label=None, volume_json=None)
    return record


def _open_for_resume(path: Path, medium: Medium, drive: Drive) -> Record:
    """The record, once the disc in the drive has shown it is the recorded one (the probe is re-read)."""
    record = Record.open(path)
    known = record.medium()
    if known is None:
        record.close()
        raise RecordError(f"{path} has no medium recorded", hint="it was not written by `acquire image`")
    was = json.loads(known["identity"])
    now = _medium_identity(medium, None)
    differs = [k for k in ("capacity", "profile", "toc") if was.get(k) != now[k]]
    if not differs and was.get("probe"):
        lba, count, digest = was["probe"]
        again = drive.read(lba, count, fua=True)
        if again.ok and hashlib.sha256(again.data).hexdigest() != digest:
            differs.append(f"content of LBA {lba}-{lba + count - 1}")
    if differs:
        record.close()
        raise WrongDisc(f"the disc in {drive.name} is not the disc in {path} (differs in {', '.join(differs)})",
                        hint="insert the original disc, or image this one to a new path")
    return record


class _Run:
    """One invocation: the Sink the engine reports to, and the end-of-run bookkeeping."""

    def __init__(self, drive: Drive, record: Record, image: Path, medium: Medium, options: ImageOptions,
                 on_progress, resumed: bool) -> None:
        self.drive, self.record, self.image_path, self.medium = drive, record, image, medium
        self.options, self.on_progress, self.resumed = options, on_progress, resumed
        self.run_id = 0
        self.drive_id = 0
        self.writer: ImageWriter | None = None
        stored = record.load_map()
        self.smap = SectorMap.from_runs(medium.capacity, stored) if stored else SectorMap(medium.capacity)
        # hash while streaming only when the disc will be read in order from LBA 0: a fresh run
        self.hasher: StreamHasher | None = None if stored else StreamHasher()
        self.hashes: Hashes | None = None
        self.hashed_upto = 0
        self.pending_bytes = 0
        self.last_checkpoint = time.monotonic()
        self.syncing: tuple[Future, tuple] | None = None      # a background fdatasync and its batch
        self.sync_thread = ThreadPoolExecutor(1, thread_name_prefix="fdatasync")
        self.last_progress = 0.0
        self.pass_id: int | None = None
        self.pass_figures: dict = {}
        self.phase, self.pass_no = "start", 0
        self.bytes_read = 0
        self.provenance: list[int] | None = None     # [start, count] of the finished range being extended
        self.provenance_key: tuple[str, int] | None = None
        self.clock_at_start = drive.clock_s
        self.fallbacks_logged = 0

    # -- the run ---------------------------------------------------------------------------
    def execute(self, identity) -> Outcome:
        record = self.record
        self.run_id = record.begin_run(command=self.options.command, device=self.drive.name)
        self.drive_id = record.add_drive(device=identity.device, vendor=identity.vendor, product=identity.product,
                                         revision=identity.revision, serial=identity.serial,
                                         inquiry_hex=identity.inquiry_hex,
                                         features=[f"{c:04X}" for c in self.medium.features])
        record.set_run_drive(self.run_id, self.drive_id)
        self._log_fallbacks()
        record.log_event(self.run_id, "disc-in-drive", drive_id=self.drive_id, profile=self.medium.profile_name,
                         capacity=self.medium.capacity, finished=self.smap.count(State.FINISHED),
                         identity_checked=self.resumed)
        status, message = "interrupted", ""
        restore = _DriveSettings(self)
        previous_handler = _sigterm_as_interrupt()
        try:
            with ImageWriter(self.image_path, self.medium.capacity) as writer:
                self.writer = writer
                try:
                    writer.preallocate()
                    restore.apply()
                    self._log_fallbacks()
                    settings = Settings.for_medium(self.medium.capacity, self.medium.ecc_sectors, self.medium.family,
                                                   retries=self.options.retries, trim=self.options.trim,
                                                   scrape=self.options.scrape)
                    make_engine(self.options.strategy, self.drive, self.smap, self, settings).run()
                    self._end_pass()
                    self._fill_unreadable()
                    self.checkpoint()
                    status = "complete" if self.smap.count(State.FINISHED) == self.smap.sectors else "partial"
                except (KeyboardInterrupt, Interrupted):
                    message = "interrupted by the user; run the same command to resume"
                except (DriveGone, MediumChanged, NoDisc) as exc:
                    message = f"{exc}" if "resume" in str(exc) else f"{exc}; run the same command to resume"
                except OutOfSpace as exc:
                    message = str(exc)
                except AcquireError as exc:
                    status = "failed"
                    self._stop_safely(f"failed: {exc}")
                    record.end_run(self.run_id, "failed")
                    raise
                finally:
                    if status == "interrupted":
                        self._stop_safely(message)
                    self.sync_thread.shutdown(wait=True)      # no fdatasync outlives the image's fd
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            restore.undo()
        if status == "interrupted":
            try:
                record.end_run(self.run_id, "interrupted")
            except AcquireError as exc:   # a full disk: the record stays unsealed, and says so on verify
                message = f"{message} (the record stays unsealed until the resume: {type(exc).__name__})"
            return self._outcome("interrupted", {}, message)
        hashes = self._hashes()
        self._note_volume()
        self._analyse()
        record.log_event(self.run_id, "hashes", **hashes)
        record.end_run(self.run_id, status)
        head = record.head_hash()
        write_sum_files(self.image_path, self.hashes, comment_lines=(
            f"acquire {__version__} image of {self.medium.capacity} sectors, status {status}",
            f"record {self.record.path.name} chain head {head}"))
        return self._outcome(status, hashes, "")

    def _log_fallbacks(self) -> None:
        """Each command the drive refused, and what we did instead, as a 'fallback' event."""
        for note in self.drive.fallbacks[self.fallbacks_logged:]:
            self.record.log_event(self.run_id, "fallback", refused=note)
        self.fallbacks_logged = len(self.drive.fallbacks)

    def _stop_safely(self, message: str) -> None:
        """Commit what is durable; never let the map claim data that may not be on disk."""
        if self.hasher is not None:
            self.hasher.abort()
            self.hasher = None
        try:
            self._end_pass()
            self.checkpoint()
            self.record.log_event(self.run_id, "interrupted", reason=message,
                                  finished=self.smap.count(State.FINISHED))
        except (AcquireError, OSError):
            # what was not committed is read again on resume, never trusted
            self.record.discard_staged()
            self.pass_id = None

    def _outcome(self, status: str, hashes: dict, message: str) -> Outcome:
        bad_runs = [(r.start, r.end - 1) for r in self.smap.runs() if r.state != State.FINISHED]
        finished = self.smap.count(State.FINISHED)
        return Outcome(self.image_path, self.record.path, self.medium.capacity, status, finished,
                       self.medium.capacity - finished, bad_runs if status != "interrupted" else [],
                       hashes, self.drive.clock_s - self.clock_at_start, self.record.head_hash(), message,
                       self.resumed, list(self.drive.fallbacks))

    # -- sink: what the engine tells us ------------------------------------------------------
    def good(self, result: ReadResult, phase: str, pass_no: int) -> None:
        self.writer.write(result.lba, result.data)
        self.bytes_read += len(result.data)
        self.pending_bytes += len(result.data)
        self.pass_figures["reads"] = self.pass_figures.get("reads", 0) + 1
        self.pass_figures["sectors_finished"] = self.pass_figures.get("sectors_finished", 0) + result.count
        self.pass_figures["drive_time_s"] = self.pass_figures.get("drive_time_s", 0.0) + result.duration_s
        self._feed_hasher(result)
        self._extend_provenance(result.lba, result.count, phase, pass_no)

    def failed(self, result: ReadResult, phase: str, pass_no: int, reason: str) -> None:
        self.pass_figures["reads"] = self.pass_figures.get("reads", 0) + 1
        self.pass_figures["failed_reads"] = self.pass_figures.get("failed_reads", 0) + 1
        self.pass_figures["drive_time_s"] = self.pass_figures.get("drive_time_s", 0.0) + result.duration_s
        self._damage(result, phase, pass_no, reason, "failed")
        if self.hasher is not None:      # the image will not be written in order: hash the file at the end
            self.hasher.abort()
            self.hasher = None

    def marginal(self, result: ReadResult, phase: str, pass_no: int, reason: str) -> None:
        self._damage(result, phase, pass_no, reason, "marginal")

    def _damage(self, result: ReadResult, phase: str, pass_no: int, reason: str, outcome: str) -> None:
        sense = result.sense
        self.record.add_damage(run_id=self.run_id, drive_id=self.drive_id, lba=result.lba, count=result.count,
                               phase=phase, pass_no=pass_no, outcome=outcome,
                               sense=str(sense) if sense else None,
                               sense_name=sense.name if sense else "no sense data (transport failure)",
                               duration_s=round(result.duration_s, 6), reason=reason)

    def pass_started(self, phase: str, pass_no: int, direction: str) -> None:
        self._end_pass()
        self.phase, self.pass_no = phase, pass_no
        self.pass_id = self.record.begin_pass(self.run_id, phase, pass_no, direction)
        self.pass_figures = {"reads": 0, "failed_reads": 0, "sectors_finished": 0, "drive_time_s": 0.0}
        self.record.log_event(self.run_id, "pass-start", phase=phase, pass_no=pass_no, direction=direction)

    def pass_ended(self, phase: str, pass_no: int) -> None:
        self._end_pass()

    def _end_pass(self) -> None:
        if self.pass_id is None:
            return
        figures = dict(self.pass_figures, sectors_bad=self.smap.count(State.BAD),
                       drive_time_s=round(self.pass_figures.get("drive_time_s", 0.0), 6))
        self.checkpoint()
        self.record.end_pass(self.pass_id, **figures)
        self.record.log_event(self.run_id, "pass-end", phase=self.phase, pass_no=self.pass_no, **figures)
        self.pass_id = None

    def progress(self, smap: SectorMap, phase: str) -> None:
        now = time.monotonic()
        if self.syncing is not None and self.syncing[0].done():
            self._finish_sync()
        if self.syncing is None and (self.pending_bytes >= CHECKPOINT_BYTES
                                     or now - self.last_checkpoint >= CHECKPOINT_WALL_S):
            self._start_sync()
        if self.on_progress is not None and now - self.last_progress >= PROGRESS_WALL_S:
            self.last_progress = now
            self.on_progress(self.snapshot())

    def snapshot(self) -> Progress:
        counts = self.smap.counts()
        return Progress(self.phase, self.pass_no, self.smap.sectors, counts[State.FINISHED], counts[State.BAD],
                        counts[State.UNTRIED], self.drive.clock_s - self.clock_at_start, self.bytes_read)

    # -- durability ------------------------------------------------------------------------------
    def _start_sync(self) -> None:
        """A checkpoint that does not stop the copy: snapshot the map and the staged rows now (every
        sector it calls finished was written before), fdatasync in the background, commit when done."""
        if self.writer is None:
            return
        self._flush_provenance()
        self.record.save_map((r.start, r.count, int(r.state)) for r in self.smap.runs())
        self.syncing = (self.sync_thread.submit(self.writer.sync), self.record.take_staged())
        self.pending_bytes = 0
        self.last_checkpoint = time.monotonic()

    def _finish_sync(self) -> None:
        done, batch = self.syncing
        self.syncing = None
        done.result()                        # an fdatasync that failed raises here: nothing committed
        self.record.commit_batch(batch)

    def checkpoint(self) -> None:
        """fdatasync the image, then commit the map, provenance and damage in one transaction."""
        if self.syncing is not None:
            self._finish_sync()
        if self.writer is not None:
            self.writer.sync()
        self._flush_provenance()
        self.record.save_map((r.start, r.count, int(r.state)) for r in self.smap.runs())
        self.record.commit()
        self.pending_bytes = 0
        self.last_checkpoint = time.monotonic()

    def _extend_provenance(self, lba: int, count: int, phase: str, pass_no: int) -> None:
        key = (phase, pass_no)
        if self.provenance is not None and self.provenance_key == key and self.provenance[0] + self.provenance[1] == lba:
            self.provenance[1] += count
            return
        self._flush_provenance()
        self.provenance, self.provenance_key = [lba, count], key

    def _flush_provenance(self) -> None:
        if self.provenance is None:
            return
        self.record.add_provenance(self.provenance[0], self.provenance[1], run_id=self.run_id,
                                   drive_id=self.drive_id, phase=self.provenance_key[0],
                                   pass_no=self.provenance_key[1])
        self.provenance = None

    def _fill_unreadable(self) -> None:
        for run in self.smap.runs():
            if run.state != State.FINISHED:
                self.writer.zero(run.start, run.count)

    # -- hashes ----------------------------------------------------------------------------------
    def _feed_hasher(self, result: ReadResult) -> None:
        if self.hasher is None:
            return
        if result.lba != self.hashed_upto:
            self.hasher.abort()
            self.hasher = None
            return
        self.hasher.update(result.data)
        self.hashed_upto = result.lba + result.count

    def _hashes(self) -> dict[str, str]:
        streamed = self.hasher is not None and self.hashed_upto == self.medium.capacity
        hashes = self.hasher.finish() if streamed else hash_file(self.image_path)
        if self.hasher is not None and not streamed:
            self.hasher.abort()
        self.hasher = None
        self.hashes = hashes
        self.record.set_hashes(hashes.as_dict(), hashes.size,
                               ((w.index, w.offset, w.length, w.xxh128, w.sha256) for w in hashes.windows))
        self.record.commit()
        return hashes.as_dict()

    def _analyse(self) -> None:
        """File systems, boot images and the files the damage hit, stored in the record (sealed by end_run).
        Whatever a damaged disc holds, analysing it must never cost the acquisition."""
        try:
            save_analysis(self.record, analyze_image(self.image_path, self.smap), run_id=self.run_id)
        except Exception as exc:  # noqa: BLE001 - arbitrary disc content; the image and record stand
            self.record.log_event(self.run_id, "fs-analysis-failed", error=f"{type(exc).__name__}: {exc}")

    def _note_volume(self) -> None:
        if self.smap.state_at(PVD_LBA) != State.FINISHED or self.medium.capacity <= PVD_LBA:
            return
        with ImageWriter(self.image_path, self.medium.capacity, readonly=True) as reader:
            pvd = parse_primary_volume(reader.read(PVD_LBA, 1))
        if pvd is None:
            return
        self.record.update_medium(volume_label=pvd.volume_id, volume_json=json.dumps(pvd.as_dict()))
        if pvd.volume_space_size != self.medium.capacity:
            self.record.log_event(self.run_id, "volume-size-mismatch", volume_space_size=pvd.volume_space_size,
                                  capacity=self.medium.capacity)


class _DriveSettings:
    """Speed and error-recovery changes for the run, recorded, and restored at the end."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.original_page: bytes | None = None
        self.speed_changed = False

    def apply(self) -> None:
        drive, record, run_id = self.run.drive, self.run.record, self.run.run_id
        speed = self.run.options.speed
        if speed is not None:
            kbps = 0xFFFF if speed == "max" else int(float(speed) * _KBPS_1X[self.run.medium.family])
            if drive.data(mmc.set_cd_speed(read_kbps=min(kbps, 0xFFFF)), 0,
                          what="SET CD SPEED (reading at the drive's own speed)") is not None:
                self.speed_changed = True
                record.record_setting(run_id, "read speed", "drive default", speed)
        raw = drive.data(mmc.mode_sense_10(0x01), 256, what="MODE SENSE(10) page 01h")
        mask_raw = drive.data(mmc.mode_sense_10(0x01, page_control=1), 256, what="MODE SENSE(10) page 01h changeable")
        if raw is None or mask_raw is None:
            return
        try:
            current = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(raw))
            mask = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(mask_raw))
        except AcquireError:
            return
        if current.per or not mask.per:
            return
        # PER: the drive reports recovered errors (SK 1), so marginal sectors reach the damage log
        wanted = dataclasses.replace(current, per=True)
        page = wanted.to_bytes()
        params = mmc.mode_select_10_parameters(page)
        if drive.data(mmc.mode_select_10(len(params)), 0, data_out=params,
                      what="MODE SELECT(10) page 01h (keeping the drive's error recovery)") is not None:
            self.original_page = current.to_bytes()
            record.record_setting(run_id, "error recovery PER", "0", "1")

    def undo(self) -> None:
        drive = self.run.drive
        try:
            if self.original_page is not None:
                params = mmc.mode_select_10_parameters(self.original_page)
                if drive.data(mmc.mode_select_10(len(params)), 0, data_out=params, what="MODE SELECT restore") is not None:
                    self.run.record.record_setting(self.run.run_id, "error recovery PER", "1", "0 (restored)")
                self.original_page = None
            if self.speed_changed:
                drive.data(mmc.set_cd_speed(read_kbps=0xFFFF), 0, what="SET CD SPEED restore")
                self.run.record.record_setting(self.run.run_id, "read speed", self.run.options.speed, "max (restored)")
                self.speed_changed = False
        except AcquireError:
            pass                          # the drive is gone: nothing to restore


_KBPS_1X = {"cd": 176, "dvd": 1385, "bd": 4496}


def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise Interrupted("terminated by a signal", hint="run the same command to resume")
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:                   # not the main thread
        return signal.getsignal(signal.SIGTERM)
