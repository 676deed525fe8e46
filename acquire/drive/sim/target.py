"""SimulatedDrive: the Transport of the simulated drive. CDB dispatch, events, the clock, the trace.

It decodes the CDB bytes it is sent and answers with data, or CHECK CONDITION and 18 bytes of
fixed-format sense, as a drive does. It deliberately shares no code with mmc or sense.py: its
byte layouts come from docs/reference/mmc.md, so tests through it are an independent check on them.
Each command is charged to a simulated clock (docs/reference/contracts.md "The clock"); nothing sleeps unless
[timing] sleep_scale asks it to. The READs are in reads.py, the other answers in answers.py, the
drive's quirks (QEMU's emulated drives, as our e2e suite measured them) in quirks.py.

Decisions where the spec is silent, and every quirk, are listed in docs/simulated-drive.md: keep
it in step. The ones this module makes:
- A READ refused before touching the medium (a unit attention, not ready, an unsupported
  opcode, a bad field) costs overhead_s only and is still traced.
- INQUIRY, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION are answered as usual while a unit
  attention or a not-ready spell is pending (MMC: they report no unit attention) and do not use
  it up; REQUEST SENSE returns the pending sense as data and uses it up (SPC).
- wait(seconds) charges the clock like a command, without counting as one.
- timeout_s is ignored: a slow READ completes however long it is charged; after a `hang` event
  no command completes at all (the caller must end the process), as a firmware-hung drive does.
"""
from __future__ import annotations

import os
import time

from ...errors import DriveGone, ProfileError
from ..transport import CHECK_CONDITION, DEFAULT_TIMEOUT_S, GOOD, Completion
from . import audio, reads
from .answers import ANSWERS
from .codes import (CDB_LENGTH, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION, INQUIRY, INVALID_FIELD_IN_CDB,
                    INVALID_OPCODE, MEDIUM_MAY_HAVE_CHANGED, NOT_READY_BECOMING_READY, READS, REQUEST_SENSE,
                    SECTOR_BYTES, Check, sense_bytes, sense_text)
from .profile import CONFUSED_KINDS, DEFAULT_SENSE, Profile, load_profile
from .state import DriveState

HANG_POLL_S = 3600.0          # a hung drive's command blocks until its process is ended
_NO_ATTENTION = {INQUIRY, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION}


class SimulatedDrive:
    """A Transport over a profile: see the module docstring and docs/reference/contracts.md."""

    def __init__(self, profile: Profile, name: str | None = None) -> None:
        self.profile = profile
        self.name = name if name is not None else f"sim:{profile.path}"
        self.capacity = profile.capacity
        self.commands = 0
        self._clock_s = 0.0
        self._events = list(profile.events)
        self._gone = False
        self._hung = False
        self._unit_attention = False
        self._not_ready_left = 0
        self.failed_reads = 0                 # READs answered CHECK CONDITION (a confused event waits for them)
        self.confused: str | None = None      # a fired confused-* event's kind
        self._closed = False
        self._fd: int | None = None
        self._track_fds: dict[int, int] = {}       # laid-out discs: track number -> its image
        self._trace = None
        # unstable bytes differ on every read, also across processes (a re-read in `acquire verify`)
        self.state = DriveState(profile, self._true_bytes, self._log,
                                unstable_reads=int.from_bytes(os.urandom(4), "big") << 20)
        self.state.raw_audio = self._audio_bytes
        for span in self.state.layout.spans:
            if span.image is not None:
                try:
                    self._track_fds[span.number] = os.open(span.image, os.O_RDONLY)
                except OSError as exc:
                    self.close()
                    raise ProfileError(f"{profile.path}: track {span.number} image {span.image} cannot be opened "
                                       f"({exc.strerror})") from exc
        if profile.image is not None:
            try:
                self._fd = os.open(profile.image, os.O_RDONLY)
            except OSError as exc:
                raise ProfileError(f"{profile.path}: [disc] image {profile.image} cannot be opened "
                                   f"({exc.strerror})") from exc
        if profile.trace is not None:
            try:
                profile.trace.parent.mkdir(parents=True, exist_ok=True)
                self._trace = open(profile.trace, "a", buffering=1, encoding="ascii")
            except OSError as exc:
                self.close()
                raise ProfileError(f"{profile.path}: [drive] trace {profile.trace} cannot be opened "
                                   f"({exc.strerror})") from exc

    @classmethod
    def from_profile(cls, path: str | os.PathLike, name: str | None = None) -> "SimulatedDrive":
        return cls(load_profile(path), name if name is not None else f"sim:{path}")

    # -- Transport ------------------------------------------------------------------------
    @property
    def clock_s(self) -> float:
        return self._clock_s

    @property
    def speed_x(self) -> float:
        """The current read speed (times 1x)."""
        return self.state.speed_x

    def wait(self, seconds: float) -> None:
        """Time passing with no command (the host waiting for the drive): charged to the clock."""
        self._charge(max(seconds, 0.0))

    def close(self) -> None:
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for fd in self._track_fds.values():
            os.close(fd)
        self._track_fds = {}
        if self._trace is not None:
            self._trace.close()
            self._trace = None

    def __enter__(self) -> "SimulatedDrive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, cdb: bytes, *, data_in_length: int = 0, data_out: bytes = b"",
                timeout_s: float = DEFAULT_TIMEOUT_S) -> Completion:
        if self._closed:
            raise DriveGone(f"{self.name} is closed", hint="open the drive again")
        self._fire_events()
        while self._hung:             # a drive that stopped answering: the command never completes
            time.sleep(HANG_POLL_S)
        if self._gone:
            raise DriveGone(f"{self.name} stopped answering (simulated disconnect)",
                            hint="reconnect it and run the same command to resume")
        self.commands += 1
        cdb = bytes(cdb)
        opcode = cdb[0] if cdb else None
        if opcode in READS:
            return self._read_command(cdb, data_in_length)
        cost = self.profile.overhead_s
        try:
            data = self._dispatch(cdb, data_out)
        except Check as check:
            return self._fail(check, cost, data_in_length)
        self._charge(cost)
        self._good()
        if opcode in self.state.quirks.pad_to_allocation:     # resid 0: the whole buffer counts as data
            data = data.ljust(data_in_length, b"\x00")
        return Completion(data=data[:max(data_in_length, 0)], status=GOOD, duration_s=cost)

    def expected_sector(self, lba: int) -> bytes:
        """The true 2048 bytes of `lba` (what a perfect read returns)."""
        return self._true_bytes(lba, 1)

    # -- plumbing ---------------------------------------------------------------------------
    def _fire_events(self) -> None:
        due = [e for e in self._events if e.after_commands <= self.commands and e.after_errors <= self.failed_reads]
        for event in due:
            self._events.remove(event)
            if event.kind in CONFUSED_KINDS:
                self.confused = event.kind
            elif event.kind == "disconnect":
                self._gone = True
            elif event.kind == "hang":
                self._hung = True
            elif event.kind == "media-change":
                self._unit_attention = True
                self.state.media_event = True
            else:
                self._not_ready_left += event.count

    def _pending_condition(self, opcode: int | None) -> tuple[int, int, int] | None:
        """A unit attention or not-ready spell that answers this command instead, used up."""
        if opcode in _NO_ATTENTION:
            return None
        if self._unit_attention:
            self._unit_attention = False
            return MEDIUM_MAY_HAVE_CHANGED
        if self._not_ready_left:
            self._not_ready_left -= 1
            return NOT_READY_BECOMING_READY
        return None

    def _dispatch(self, cdb: bytes, data_out: bytes) -> bytes:
        opcode = cdb[0] if cdb else None
        pending = self._pending_condition(opcode)
        if pending is not None:
            if opcode == REQUEST_SENSE:      # SPC: the pending condition is reported as data
                self.state.last_sense = self._sense_bytes(pending)
            else:
                raise Check(pending)
        if opcode is None or opcode not in ANSWERS or opcode in self.state.quirks.unsupported:
            raise Check(INVALID_OPCODE)
        if len(cdb) < CDB_LENGTH.get(opcode >> 5, 12):
            raise Check(INVALID_FIELD_IN_CDB)
        return ANSWERS[opcode](self.state, cdb, data_out)

    def _read_command(self, cdb: bytes, data_in_length: int) -> Completion:
        lba, count = reads.read_extent(cdb)
        try:
            pending = self._pending_condition(cdb[0])
            if pending is not None:
                raise Check(pending)
            if cdb[0] in self.state.quirks.unsupported:
                raise Check(INVALID_OPCODE)
            answer = reads.answer_read(self.state, cdb)
            if self.confused is not None and count:
                answer = self._confused_answer(answer, count)
        except Check as check:        # refused before touching the medium
            answer = reads.ReadAnswer(self.profile.overhead_s, check=check)
        fua = reads.fua_token(cdb)
        if answer.check is not None:
            self.failed_reads += 1
            self._log(f"{lba} {count} err {sense_text(answer.check.sense)}{fua}")
            return self._fail(answer.check, answer.cost_s, data_in_length)
        self._log(f"{lba} {count} ok{fua}")
        self._charge(answer.cost_s)
        self._good()
        return Completion(data=answer.data[:max(data_in_length, 0)], status=GOOD, duration_s=answer.cost_s)

    def _confused_answer(self, answer: "reads.ReadAnswer", count: int) -> "reads.ReadAnswer":
        """A confused drive (after a burst of errors, until it is reset): every READ that reached
        the medium answers GOOD with zeros (confused-zeros) or fails as unreadable (confused-errors)."""
        cost = answer.cost_s - (self.profile.error_delay_s if answer.check is not None else 0.0)
        if self.confused == "confused-zeros":
            return reads.ReadAnswer(cost, bytes(count * SECTOR_BYTES))
        return reads.ReadAnswer(cost + self.profile.error_delay_s, check=Check(DEFAULT_SENSE, None))

    def _fail(self, check: Check, cost: float, data_in_length: int) -> Completion:
        sense = self._sense_bytes(check.sense, check.information)
        self.state.last_sense = sense
        self._charge(cost)
        # resid_zero_on_failure: what a transport that trusted resid would hand up (docs/reference/qemu.md)
        data = bytes(max(data_in_length, 0)) if self.state.quirks.resid_zero_on_failure else b""
        return Completion(data=data, status=CHECK_CONDITION, sense=sense, duration_s=cost)

    def _sense_bytes(self, key_asc_ascq: tuple[int, int, int], information: int | None = None) -> bytes:
        """Fixed sense as this drive reports it: the `information` quirk decides VALID and INFORMATION."""
        mode = self.state.quirks.information
        return sense_bytes(key_asc_ascq, information if mode == "first-bad-lba" else 0 if mode == "zero" else None)

    def _good(self) -> None:
        if not self.state.quirks.request_sense_sticky:    # sticky: the last error's sense stays until the next
            self.state.last_sense = b""

    def _charge(self, cost: float) -> None:
        self._clock_s += cost
        if self.profile.sleep_scale:
            time.sleep(cost * self.profile.sleep_scale)

    def _laid_out_bytes(self, lba: int, count: int) -> bytes:
        """2048-byte user data of each LBA: its track's image or generated content; zeros where
        nothing is recorded (never delivered: a READ there fails) and for audio (see _audio_bytes)."""
        out = []
        pos, end = lba, lba + count
        while pos < end:
            span = self.state.layout.span_at(pos)
            if span is None or pos >= span.data_end or span.mode == "audio":
                stop = min(end, span.end if span is not None else self._next_start(pos))
                out.append(bytes((stop - pos) * SECTOR_BYTES))
            else:
                stop = min(end, span.data_end)
                out.append(self._span_bytes(span, pos, stop - pos, SECTOR_BYTES, 0))
            pos = stop
        return b"".join(out)

    def _audio_bytes(self, lba: int, count: int) -> bytes:
        """2352-byte CD-DA sectors of an audio track (a WAV file's 44-byte header skipped)."""
        span = self.state.layout.span_at(lba)
        if span is None:                  # a hidden track one audio: its pre-gap's own image (sim/audio.py)
            return b"".join(audio.pregap_sector(self.state, n) for n in range(lba, lba + count))
        skip = 44 if span.image is not None and span.image.suffix.lower() == ".wav" else 0
        return self._span_bytes(span, lba, count, 2352, skip)

    def _span_bytes(self, span, lba: int, count: int, unit: int, skip: int) -> bytes:
        if span.image is None:
            data = reads.generated_sectors(lba, count)
            return data if unit == SECTOR_BYTES else b"".join(d + d[:unit - SECTOR_BYTES] for d in
                                                              (data[i:i + SECTOR_BYTES] for i in range(0, len(data), SECTOR_BYTES)))
        fd = self._track_fds.get(span.number)
        if fd is None:
            raise ValueError(f"{self.name} is closed")
        want = count * unit
        data = os.pread(fd, want, skip + (lba - span.start) * unit)
        if len(data) != want:
            raise ProfileError(f"{self.profile.path}: track {span.number} image {span.image} shrank while in use")
        return data

    def _next_start(self, lba: int) -> int:
        return next((s.start for s in self.state.layout.spans if s.start > lba), self.state.end)

    def _log(self, line: str) -> None:
        if self._trace is not None:
            self._trace.write(line + "\n")

    def _true_bytes(self, lba: int, count: int) -> bytes:
        if lba < 0 or count < 0 or lba + count > self.state.end:
            raise ValueError(f"LBA {lba}+{count} is outside the disc (capacity {self.capacity})")
        if self.profile.laid_out:
            return self._laid_out_bytes(lba, count)
        if self._fd is None:
            if self.profile.image is not None:
                raise ValueError(f"{self.name} is closed")
            return reads.generated_sectors(lba, count)
        want = count * SECTOR_BYTES
        data = os.pread(self._fd, want, lba * SECTOR_BYTES)
        if len(data) != want:
            raise ProfileError(f"{self.profile.path}: [disc] image {self.profile.image} shrank while in use "
                               f"(LBA {lba} is past its end)")
        return data
