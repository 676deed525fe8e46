"""The drive as the layers above see it: identity, medium, and sector reads with their fallbacks.

Everything here speaks MMC through a guarded Transport, so it runs unchanged on a real drive
(SgTransport) and on the simulated one. A failed READ is a value (ReadResult with its Sense);
only what stops a run raises.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ..errors import DriveError, DriveGone, MalformedResponse, MediumChanged, NoDisc, UsageError
from . import mmc
from .profiles import ECC_SECTORS, KBPS_1X, medium_family
from .guard import GuardedTransport
from .sense import Action, Sense, parse_sense
from .transport import Completion, Transport

SECTOR_BYTES = mmc.USER_DATA_BYTES   # the one sector size of the real side; re-exported for the layers above
READY_ATTEMPTS = 20          # TEST UNIT READY tries while the drive says "becoming ready"
READY_WAIT_S = 0.2          # drive time between them, through Transport.wait (no real sleep on sim:)
ABORTED_RETRIES = 3          # a READ the drive aborted (0B/xx/xx) is sent again this many times
READ_TIMEOUT_S = 60.0        # a failed READ with the drive's own retries can take tens of seconds


def open_transport(device: str) -> GuardedTransport:
    """`/dev/srN`, `/dev/sgN` or `sim:PROFILE.toml` -> a guarded transport (the only way in)."""
    if device.startswith("sim:"):
        from .sim import SimulatedDrive  # the simulated drive only loads when asked for

        path = device[4:]
        if not path:
            raise UsageError("sim: needs a profile path", hint="e.g. sim:fixtures/clean.toml")
        inner: Transport = SimulatedDrive.from_profile(path, name=device)
    elif device.startswith("/"):
        from .sg import SgTransport

        inner = SgTransport(device)
    else:
        raise UsageError(f"unknown device {device!r}", hint="give /dev/srN, /dev/sgN or sim:PROFILE.toml")
    return GuardedTransport(inner)


@dataclass(frozen=True, slots=True)
class DriveIdentity:
    device: str
    vendor: str
    product: str
    revision: str
    serial: str | None
    inquiry_hex: str


@dataclass(frozen=True, slots=True)
class Medium:
    profile: int
    profile_name: str
    family: str                      # "cd" | "dvd" | "bd"
    capacity: int                    # sectors: last LBA + 1
    block_length: int
    toc: mmc.Toc | None
    disc_information: mmc.DiscInformation | None
    features: tuple[int, ...] = ()

    @property
    def ecc_sectors(self) -> int:
        return ECC_SECTORS[self.family]

    def toc_summary(self) -> list[dict]:
        if self.toc is None:
            return []
        return [{"track": e.track, "adr": e.adr, "control": e.control, "start_lba": e.start_lba}
                for e in self.toc.entries]

    def disc_information_summary(self) -> dict | None:
        di = self.disc_information
        if di is None:
            return None
        return {"disc_status": di.disc_status, "last_session_state": di.last_session_state,
                "erasable": di.erasable, "sessions": di.sessions, "first_track": di.first_track,
                "last_track_in_last_session": di.last_track_in_last_session, "disc_type": di.disc_type}


@dataclass(frozen=True, slots=True)
class ReadResult:
    lba: int
    count: int
    data: bytes                      # count * 2048 bytes when ok, else b""
    sense: Sense | None              # set on CHECK CONDITION
    duration_s: float
    marginal: bool = False           # recovered error (SK 1): data good, sector marginal
    protected: bool = False          # 05/6F/xx copy protection: record it, never retry it
    fua: bool = False                # sent with FUA (READ(10) byte 1 bit 3): the medium, not the cache

    @property
    def ok(self) -> bool:
        return bool(self.data)


@dataclass
class Drive:
    """A guarded transport plus what we learned about the drive (which commands it refuses)."""

    transport: GuardedTransport
    fallbacks: list[str] = field(default_factory=list)   # what the drive refused and what we did instead
    _read_opcode: int = mmc.READ_10      # READ_CD once the drive refused READ(10) as a command
    _capacity: int | None = None          # from medium(): what a 05/21/00 READ is judged against
    _family: str = "cd"                    # from medium(): which speed command and 1x rate apply

    @property
    def name(self) -> str:
        return self.transport.name

    @property
    def clock_s(self) -> float:
        return self.transport.clock_s

    def close(self) -> None:
        self.transport.close()

    # -- plain commands -------------------------------------------------------------
    def command(self, cdb: bytes, data_in_length: int = 0, *, data_out: bytes = b"",
                timeout_s: float = 30.0) -> Completion:
        return self.transport.execute(cdb, data_in_length=data_in_length, data_out=data_out, timeout_s=timeout_s)

    def data(self, cdb: bytes, data_in_length: int, *, what: str, data_out: bytes = b"",
             note: bool = True) -> bytes | None:
        """Data of a command (b"" for none), or None when the drive refuses it; the refusal is noted
        (unless `note` is false: asking for a structure the disc may not have is no fallback)."""
        try:
            done = self.command(cdb, data_in_length, data_out=data_out)
        except DriveError as exc:
            if type(exc) is not DriveError:       # NoDisc, DriveGone, MediumChanged stop the run
                raise
            if note:
                self.fallbacks.append(f"{what}: {exc.message}")   # e.g. the kernel refused it (EPERM)
            return None
        if done.ok:
            return done.data
        sense = self._sense(done)
        if sense is not None and sense.action is Action.STOP_NO_DISC:
            raise NoDisc(f"no disc in {self.name} ({sense.name})", hint="insert the disc and close the tray")
        if sense is not None and sense.action is Action.STOP_MEDIUM_CHANGED:
            raise MediumChanged(f"{self.name} reports the medium may have changed ({sense})",
                                hint="run the same command again: the disc identity is checked on resume")
        if note:
            self.fallbacks.append(f"{what}: {sense if sense else _status_text(done)}")
        return None

    def _sense(self, done: Completion) -> Sense | None:
        if not done.sense:
            return None
        try:
            return parse_sense(done.sense)
        except MalformedResponse:
            return None

    # -- identity and medium ----------------------------------------------------------
    def identify(self) -> DriveIdentity:
        raw = self.data(mmc.inquiry(), 96, what="INQUIRY")
        if raw is None:
            raise DriveError(f"{self.name} does not answer INQUIRY", hint="check the device path")
        inq = mmc.parse_inquiry(raw)
        serial = None
        vpd = self.data(mmc.inquiry(evpd=True, page_code=0x80, allocation_length=252), 252,
                        what="INQUIRY VPD 80h (serial)")
        if vpd is not None:
            try:
                serial = mmc.parse_unit_serial_number(vpd) or None
            except MalformedResponse:
                serial = None
        return DriveIdentity(self.name, inq.vendor, inq.product, inq.revision, serial, raw.hex())

    def wait_ready(self) -> None:
        """TEST UNIT READY until ready: wait while becoming ready; stop clearly on no disc."""
        for _ in range(READY_ATTEMPTS):
            done = self.command(mmc.test_unit_ready())
            if done.ok:
                return
            sense = self._sense(done)
            action = sense.action if sense else Action.UNKNOWN
            if action is Action.STOP_NO_DISC:
                raise NoDisc(f"no disc in {self.name} ({sense.name})", hint="insert the disc and close the tray")
            if action in (Action.WAIT_AND_RETRY, Action.STOP_MEDIUM_CHANGED, Action.RETRY_ABORTED):
                # a unit attention after a disc change clears by being reported; a drive becoming
                # ready needs time
                if action is Action.WAIT_AND_RETRY:
                    self.transport.wait(READY_WAIT_S)
                continue
            raise DriveError(f"{self.name} is not ready ({sense.name if sense else _status_text(done)})",
                             hint="check the disc and the drive")
        raise DriveError(f"{self.name} did not become ready after {READY_ATTEMPTS} tries",
                         hint="check the disc, then run the same command again")

    def medium(self) -> Medium:
        config_raw = self.data(mmc.get_configuration(rt=mmc.RT_ALL, allocation_length=4096), 4096,
                               what="GET CONFIGURATION")
        profile, features = 0, ()
        if config_raw is not None:
            config = mmc.parse_configuration(config_raw)
            profile = config.current_profile
            features = tuple(f.code for f in config.features)
        raw = self.data(mmc.read_capacity_10(), 8, what="READ CAPACITY(10)")
        if raw is None:
            raise DriveError(f"{self.name} cannot report the disc's capacity", hint="check the disc")
        capacity = mmc.parse_read_capacity_10(raw)
        if capacity.block_length not in (0, SECTOR_BYTES):
            raise DriveError(f"block length {capacity.block_length} is not 2048: not a data disc",
                             hint="audio CDs are not supported yet")
        toc_raw = self.data(mmc.read_toc(mmc.TOC_FORMAT_TOC, allocation_length=4096), 4096, what="READ TOC format 0")
        toc = _parse_or_none(mmc.parse_toc, toc_raw)
        di_raw = self.data(mmc.read_disc_information(), 34, what="READ DISC INFORMATION")
        di = _parse_or_none(mmc.parse_disc_information, di_raw)
        family, _ = medium_family(profile, capacity.sectors)     # no profile: a guess from the size
        self._capacity = capacity.sectors
        self._family = family
        return Medium(profile, mmc.profile_name(profile), family, capacity.sectors, SECTOR_BYTES,
                      toc, di, features)

    def allow_reads_to(self, sectors: int) -> None:
        """Judge 05/21/00 READs against `sectors`: the recorded layout may run past READ CAPACITY
        (an open session's tracks are recorded beyond the capacity the drive reports)."""
        self._capacity = max(self._capacity or 0, sectors)

    # -- reading ------------------------------------------------------------------------
    def read(self, lba: int, count: int, *, fua: bool = False) -> ReadResult:
        """`count` sectors of user data: READ(10), or READ CD where the drive needs it.

        A failed read is a ReadResult; what a failure means is _READ_ACTIONS's handler for its
        sense. On failure, never trust resid: the data is all or nothing.
        """
        attempt = _ReadAttempt(lba, count, fua, self._read_opcode)
        while True:
            done = self.command(self._read_cdb(attempt), count * SECTOR_BYTES, timeout_s=READ_TIMEOUT_S)
            if done.ok and len(done.data) == count * SECTOR_BYTES:
                return ReadResult(lba, count, done.data, None, done.duration_s, fua=attempt.sent_fua)
            sense = self._sense(done)
            if sense is None:            # a transport failure, or sense we cannot decode
                return ReadResult(lba, count, b"", None, done.duration_s, fua=attempt.sent_fua)
            result = self._READ_ACTIONS[sense.action](self, attempt, done, sense)
            if result is not None:
                return result

    def _read_cdb(self, attempt: "_ReadAttempt") -> bytes:
        if attempt.opcode == mmc.READ_CD:
            # sector type 0 (any) with user data only: 2048 bytes of a mode 1 or mode 2 form 1
            # sector; a form 2 sector (2324) fails the length check instead of passing as data
            return mmc.read_cd(attempt.lba, attempt.count, sector_type=0, main_channel=mmc.READ_CD_USER_DATA)
        return mmc.read_10(attempt.lba, attempt.count, fua=attempt.fua)

    # Each handler returns the ReadResult, or None to send the (possibly changed) read again.
    def _failed(self, attempt: "_ReadAttempt", done: Completion, sense: Sense, **flags) -> ReadResult:
        # never done.data: bytes of a transfer that ended in CHECK CONDITION are not the sector's
        # (a transport that trusts resid hands up a full buffer of whatever was in it)
        return ReadResult(attempt.lba, attempt.count, b"", sense, done.duration_s, fua=attempt.sent_fua, **flags)

    def _on_marginal(self, attempt, done, sense) -> ReadResult:
        # the one CHECK CONDITION whose data is kept: RECOVERED ERROR (SK 1) means the command completed
        # (SPC-4 4.5.6), and only with every byte of it
        if len(done.data) == attempt.count * SECTOR_BYTES:     # recovered: the data is good
            return ReadResult(attempt.lba, attempt.count, done.data, sense, done.duration_s, marginal=True,
                              fua=attempt.sent_fua)
        return self._failed(attempt, done, sense)

    def _on_wait(self, attempt, done, sense) -> ReadResult | None:
        # a drive that is becoming ready again (02/04/01) has not tried the sector yet
        if attempt.waits >= READY_ATTEMPTS:
            return self._failed(attempt, done, sense)
        attempt.waits += 1
        self.transport.wait(READY_WAIT_S)
        return None

    def _on_aborted(self, attempt, done, sense) -> ReadResult | None:
        if attempt.aborts >= ABORTED_RETRIES:
            return self._failed(attempt, done, sense)
        attempt.aborts += 1
        return None

    def _on_fall_back(self, attempt, done, sense) -> ReadResult | None:
        """05/64/00 (a mode 2 track) or 05/20/00 (READ(10) refused): the same sectors by READ CD."""
        if attempt.opcode == mmc.READ_CD:          # READ CD refused too: nothing left to fall back to
            return self._failed(attempt, done, sense)
        note = f"READ(10): {sense} ({sense.name}); read with READ CD (user data)"
        if (sense.asc, sense.ascq) == (0x20, 0x00):  # the command itself is refused: for good
            self._read_opcode = mmc.READ_CD
            note = f"READ(10): {sense} ({sense.name}); READ CD (user data) from now on"
        if note not in self.fallbacks:
            self.fallbacks.append(note)
        attempt.opcode = mmc.READ_CD
        return None

    def _on_out_of_range(self, attempt, done, sense) -> ReadResult:
        """05/21/00: past the capacity it is a wrong capacity or our bug; inside it, a failed read
        (QEMU's ide-cd reports every medium error so: docs/simulated-drive.md)."""
        if self._capacity is None:
            raw = self.data(mmc.read_capacity_10(), 8, what="READ CAPACITY(10)")
            capacity = _parse_or_none(mmc.parse_read_capacity_10, raw)
            self._capacity = capacity.sectors if capacity is not None else None
        if self._capacity is not None and attempt.lba + attempt.count > self._capacity:
            raise DriveError(f"{self.name} refused LBA {attempt.lba}+{attempt.count} as out of range ({sense}): "
                             f"the disc's capacity is {self._capacity} sectors",
                             hint="the capacity is wrong or this is a bug in acquire: please report it")
        return self._failed(attempt, done, sense)

    def _on_protected(self, attempt, done, sense) -> ReadResult:
        return self._failed(attempt, done, sense, protected=True)

    def _on_no_disc(self, attempt, done, sense) -> ReadResult:
        raise NoDisc(f"the disc left {self.name} ({sense.name})",
                     hint="insert the same disc and run the same command to resume")

    def _on_medium_changed(self, attempt, done, sense) -> ReadResult:
        raise MediumChanged(f"{self.name} reports the medium may have changed ({sense})",
                            hint="run the same command again: the disc identity is checked on resume")

    def _on_hardware(self, attempt, done, sense) -> ReadResult:
        raise DriveError(f"{self.name} reports a hardware error ({sense}: {sense.name})",
                         hint="the drive may be failing: try another drive and resume")

    # sense.Action -> what a READ does about it; every Action has a row (tests/test_simulated.py)
    _READ_ACTIONS: ClassVar[dict[Action, Callable[..., ReadResult | None]]] = {
        Action.GOOD_BUT_MARGINAL: _on_marginal,
        Action.BAD_SECTOR: _failed,               # later phases retry it
        Action.WAIT_AND_RETRY: _on_wait,
        Action.STOP_NO_DISC: _on_no_disc,
        Action.STOP_MEDIUM_CHANGED: _on_medium_changed,
        Action.FALL_BACK: _on_fall_back,
        Action.STOP_BUG: _on_out_of_range,
        Action.STOP_HARDWARE: _on_hardware,
        Action.RETRY_ABORTED: _on_aborted,
        Action.PROTECTED: _on_protected,
        Action.UNKNOWN: _failed,                  # a failed read with its sense recorded, like a bad sector
    }

    # -- retry hygiene (acquire/rescue/hygiene.py schedules these) --------------------------------
    def flush_cache(self, lba: int = 0) -> bool:
        """A zero-length READ(10) with FUA: no data, but the drive must go to the medium for the
        next READ instead of answering from its cache (a cached failure, or cached read-ahead).
        True when the drive took it."""
        done = self.command(mmc.read_10(lba, 0, fua=True))
        if not done.ok:
            sense = self._sense(done)
            if sense is not None and sense.action in (Action.STOP_NO_DISC, Action.STOP_MEDIUM_CHANGED):
                self._READ_ACTIONS[sense.action](self, None, done, sense)
        return done.ok

    def set_read_speed(self, speed_x: float | None) -> str | None:
        """Read at `speed_x` times 1x (None: the drive's maximum): SET STREAMING on a DVD or BD,
        SET CD SPEED on a CD, each falling back to the other. The command the drive took, or None
        when it took neither (the refusals are in `fallbacks`)."""
        kbps = mmc.MAX_SPEED_KBPS if speed_x is None else max(1, int(speed_x * KBPS_1X[self._family]))
        cd_speed = ("SET CD SPEED", lambda: self.data(mmc.set_cd_speed(read_kbps=min(kbps, mmc.MAX_SPEED_KBPS)), 0,
                                                      what="SET CD SPEED (retry hygiene)"))
        streaming = ("SET STREAMING", lambda: self._set_streaming(kbps, restore=speed_x is None))
        for name, send in ((streaming, cd_speed) if self._family != "cd" else (cd_speed, streaming)):
            if send() is not None:
                return name
        return None

    def _set_streaming(self, kbps: int, *, restore: bool) -> bytes | None:
        end = max((self._capacity or 1) - 1, 0)
        descriptor = mmc.performance_descriptor(0, end, kbps, restore_defaults=restore)
        return self.data(mmc.set_streaming(len(descriptor)), 0, data_out=descriptor,
                         what="SET STREAMING (retry hygiene)")

    def read_speed_x(self) -> float | None:
        """The read speed now (times 1x), from GET PERFORMANCE; None when the drive does not say."""
        raw = self.data(mmc.get_performance(), 8 + 16 * 64, what="GET PERFORMANCE")
        try:
            zones = mmc.parse_performance(raw) if raw else ()
        except MalformedResponse:
            return None
        return max(z.start_kbps for z in zones) / KBPS_1X[self._family] if zones else None

    def wait(self, seconds: float) -> None:
        """Let the drive rest: a real drive sleeps, a simulated one charges its clock."""
        self.transport.wait(seconds)

    def identity_probe(self, capacity: int) -> tuple[int, int, str] | None:
        """(lba, count, sha256) of the first of a few small areas near the start that reads whole."""
        for lba in (16, 0, 64, 256, 1024):
            if lba + 16 > capacity:
                continue
            result = self.read(lba, 16, fua=True)
            if result.ok:
                return lba, 16, hashlib.sha256(result.data).hexdigest()
        return None


@dataclass(slots=True)
class _ReadAttempt:
    """One Drive.read: its sectors, the command it is sent with now, and its retries so far."""

    lba: int
    count: int
    fua: bool
    opcode: int
    waits: int = 0
    aborts: int = 0

    @property
    def sent_fua(self) -> bool:
        return self.fua and self.opcode == mmc.READ_10      # READ CD has no FUA bit


def _parse_or_none(parser, raw: bytes | None):
    if raw is None:
        return None
    try:
        return parser(raw)
    except MalformedResponse:
        return None


def _status_text(done: Completion) -> str:
    return f"status {done.status:02X}h host {done.host_status:02X}h driver {done.driver_status:02X}h"


def open_drive(device: str) -> Drive:
    return Drive(open_transport(device))


__all__ = ["Drive", "DriveIdentity", "Medium", "ReadResult", "open_drive", "open_transport", "DriveGone"]
