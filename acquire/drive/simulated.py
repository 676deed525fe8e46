"""SimulatedDrive: an MMC target over an image (or generated content) and a damage profile.

It decodes the CDB bytes it is sent and answers with data, or CHECK CONDITION and 18 bytes of
fixed-format sense, as a drive does. It deliberately shares no code with mmc.py or sense.py: its
byte layouts come from reference/mmc.md, so tests through it are an independent check on them.
Each command is charged to a simulated clock (DESIGN.md "The clock"); nothing sleeps unless
[timing] sleep_scale asks it to.

The answers to the other commands are in simulated_commands.py; the drive's quirks (QEMU's
emulated drives, as our e2e suite measured them) are profile keys read by simulated_quirks.py.
Decisions where the spec is silent, and every quirk, are listed in docs/simulated-drive.md: keep
it in step. The ones this module makes:
- The head starts at LBA 0. A READ refused before touching the medium (05/2x, 05/64, a unit
  attention, not ready) costs overhead_s only, leaves the head where it was, counts no flaky
  attempt, and is still traced. A READ of 0 sectors is GOOD, costs overhead_s and is traced.
- A slow sector's delay_s is charged whenever a READ touches it, also when that READ fails.
- READ CD raw sectors are Mode 1: sync, BCD MSF header (LBA + 150), user data, EDC/ECC zero (as
  QEMU's ide-cd does, but QEMU's header MSF is binary). C2 bits (294 or 296 bytes) are zero, and
  all ones for an unstable sector (the drive saw errors it could not correct but delivered). No
  subchannel (05/24/00). Sector types CD-DA and Mode 2 give 05/64/00, as does READ CD on dvd/bd.
- INQUIRY, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION are answered as usual while a unit
  attention or a not-ready spell is pending (MMC: they report no unit attention) and do not use
  it up; REQUEST SENSE returns the pending sense as data and uses it up (SPC).
- timeout_s is ignored: a slow READ completes however long it is charged.
"""
from __future__ import annotations

import os
import struct
import time
from typing import Callable

from ..errors import DriveGone, ProfileError
from .simulated_commands import (_ERROR_RECOVERY_DEFAULT, ILLEGAL_MODE_FOR_THIS_TRACK, INVALID_FIELD_IN_CDB,
                                 INVALID_OPCODE, LBA_OUT_OF_RANGE, MEDIUM_MAY_HAVE_CHANGED, NOT_READY_BECOMING_READY,
                                 CommandAnswers, _bcd, _Check, _msf, _sense)
from .simulated_profile import SECTOR_BYTES, DamageMap, Profile, load_profile
from .transport import CHECK_CONDITION, DEFAULT_TIMEOUT_S, GOOD, Completion

# operation codes (reference/mmc.md "Commands we send"), spelled here again on purpose: the
# simulated drive decodes CDBs without mmc.py, so that it checks mmc.py instead of mirroring it
TEST_UNIT_READY = 0x00
REQUEST_SENSE = 0x03
INQUIRY = 0x12
START_STOP_UNIT = 0x1B
PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
READ_CAPACITY_10 = 0x25
READ_10 = 0x28
READ_TOC = 0x43
GET_CONFIGURATION = 0x46
GET_EVENT_STATUS_NOTIFICATION = 0x4A
READ_DISC_INFORMATION = 0x51
READ_TRACK_INFORMATION = 0x52
MODE_SELECT_10 = 0x55
MODE_SENSE_10 = 0x5A
READ_12 = 0xA8
GET_PERFORMANCE = 0xAC
READ_DISC_STRUCTURE = 0xAD
SET_STREAMING = 0xB6
SET_CD_SPEED = 0xBB
READ_CD = 0xBE

_CDB_LENGTH = {0: 6, 1: 10, 2: 10, 5: 12}          # by opcode group (bits 7-5)
_NO_ATTENTION = {INQUIRY, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION}
_READS = {READ_10, READ_12, READ_CD}

SYNC = b"\x00" + b"\xff" * 10 + b"\x00"
MODE_1 = 0x01
C2_BYTES = 294

_GENERATED_SEED = 0x5EED_AC0D_15C0_0001
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E37_79B9_7F4A_7C15


def generated_sector(lba: int) -> bytes:
    """The 2048 bytes of `lba` on a `sectors = N` disc: 16 bytes (LBA, mixed LBA) repeated.

    Distinct per LBA, deterministic, about a microsecond. Byte 0..5 of any LBA below 2^40 are
    zero, so no generated sector is an ISO 9660 or UDF descriptor ("CD001", "BEA01" at byte 1).
    """
    return struct.pack(">QQ", lba, ((lba ^ _GENERATED_SEED) * _GOLDEN) & _MASK64) * 128


class SimulatedDrive(CommandAnswers):
    """A Transport over a profile: see the module docstring and DESIGN.md."""

    def __init__(self, profile: Profile, name: str | None = None) -> None:
        self.profile = profile
        self.name = name if name is not None else f"sim:{profile.path}"
        self.capacity = profile.capacity
        self.commands = 0
        self._family = profile.family
        self._damage = DamageMap(profile.damage)
        self._clock_s = 0.0
        self._speed_x = float(profile.speed_x)
        self._head: int | None = 0              # None: unknown, after a failed READ
        self._flaky_attempts: dict[int, int] = {}
        # unstable bytes differ on every read, also across processes (a re-read in `acquire verify`)
        self._unstable_reads = int.from_bytes(os.urandom(4), "big") << 20
        self._last_sense = b""
        self._quirks = profile.quirks
        self._events = list(profile.events)
        self._gone = False
        self._unit_attention = False
        self._media_event = False
        self._not_ready_left = 0
        self._prevent = False
        self._error_recovery = bytearray(_ERROR_RECOVERY_DEFAULT)
        self._closed = False
        self._fd: int | None = None
        self._trace = None
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
        self._handlers: dict[int, Callable[[bytes, bytes], bytes]] = {
            TEST_UNIT_READY: lambda cdb, out: b"",
            REQUEST_SENSE: self._request_sense,
            INQUIRY: self._inquiry,
            START_STOP_UNIT: self._start_stop_unit,
            PREVENT_ALLOW_MEDIUM_REMOVAL: self._prevent_allow,
            READ_CAPACITY_10: self._read_capacity,
            READ_TOC: self._read_toc,
            GET_CONFIGURATION: self._get_configuration,
            GET_EVENT_STATUS_NOTIFICATION: self._get_event_status,
            READ_DISC_INFORMATION: self._read_disc_information,
            READ_TRACK_INFORMATION: self._read_track_information,
            MODE_SENSE_10: self._mode_sense,
            MODE_SELECT_10: self._mode_select,
            SET_CD_SPEED: self._set_cd_speed,
            SET_STREAMING: self._set_streaming,
            GET_PERFORMANCE: self._get_performance,
            READ_DISC_STRUCTURE: self._read_disc_structure,
        }

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
        return self._speed_x

    def wait(self, seconds: float) -> None:
        """Time passing with no command (the host waiting for the drive): charged to the clock."""
        self._charge(max(seconds, 0.0))

    def close(self) -> None:
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
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
        if self._gone:
            raise DriveGone(f"{self.name} stopped answering (simulated disconnect)",
                            hint="reconnect it and run the same command to resume")
        self.commands += 1
        cdb = bytes(cdb)
        opcode = cdb[0] if cdb else None
        if opcode in _READS:
            return self._read_command(cdb, data_in_length)
        cost = self.profile.overhead_s
        try:
            data = self._dispatch(cdb, data_out)
        except _Check as check:
            return self._fail(check, cost, data_in_length)
        self._charge(cost)
        self._good()
        if opcode in self._quirks.pad_to_allocation:     # resid 0: the whole buffer counts as data
            data = data.ljust(data_in_length, b"\x00")
        return Completion(data=data[:max(data_in_length, 0)], status=GOOD, duration_s=cost)

    # -- plumbing ---------------------------------------------------------------------------
    def _fire_events(self) -> None:
        while self._events and self._events[0].after_commands <= self.commands:
            event = self._events.pop(0)
            if event.kind == "disconnect":
                self._gone = True
            elif event.kind == "media-change":
                self._unit_attention = True
                self._media_event = True
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
                self._last_sense = self._sense_bytes(pending)
            else:
                raise _Check(pending)
        if opcode is None or opcode not in self._handlers or opcode in self._quirks.unsupported:
            raise _Check(INVALID_OPCODE)
        if len(cdb) < _CDB_LENGTH.get(opcode >> 5, 12):
            raise _Check(INVALID_FIELD_IN_CDB)
        return self._handlers[opcode](cdb, data_out)

    def _fail(self, check: _Check, cost: float, data_in_length: int) -> Completion:
        sense = self._sense_bytes(check.sense, check.information)
        self._last_sense = sense
        self._charge(cost)
        # resid_zero_on_failure: what a transport that trusted resid would hand up (reference/qemu.md)
        data = bytes(max(data_in_length, 0)) if self._quirks.resid_zero_on_failure else b""
        return Completion(data=data, status=CHECK_CONDITION, sense=sense, duration_s=cost)

    def _sense_bytes(self, key_asc_ascq: tuple[int, int, int], information: int | None = None) -> bytes:
        """Fixed sense as this drive reports it: the `information` quirk decides VALID and INFORMATION."""
        mode = self._quirks.information
        return _sense(key_asc_ascq, information if mode == "first-bad-lba" else 0 if mode == "zero" else None)

    def _good(self) -> None:
        if not self._quirks.request_sense_sticky:    # sticky: the last error's sense stays until the next
            self._last_sense = b""

    def _charge(self, cost: float) -> None:
        self._clock_s += cost
        if self.profile.sleep_scale:
            time.sleep(cost * self.profile.sleep_scale)

    def _log(self, line: str) -> None:
        if self._trace is not None:
            self._trace.write(line + "\n")

    # -- reads ----------------------------------------------------------------------------------
    def expected_sector(self, lba: int) -> bytes:
        """The true 2048 bytes of `lba` (what a perfect read returns)."""
        return self._true_bytes(lba, 1)

    def _true_bytes(self, lba: int, count: int) -> bytes:
        if lba < 0 or count < 0 or lba + count > self.capacity:
            raise ValueError(f"LBA {lba}+{count} is outside the disc (capacity {self.capacity})")
        if self._fd is None:
            if self.profile.image is not None:
                raise ValueError(f"{self.name} is closed")
            return b"".join(map(generated_sector, range(lba, lba + count)))
        want = count * SECTOR_BYTES
        data = os.pread(self._fd, want, lba * SECTOR_BYTES)
        if len(data) != want:
            raise ProfileError(f"{self.profile.path}: [disc] image {self.profile.image} shrank while in use "
                               f"(LBA {lba} is past its end)")
        return data

    @staticmethod
    def _read_extent(cdb: bytes) -> tuple[int, int]:
        """LBA and length of a READ-type CDB, unchecked, for the trace (0, 0 when too short)."""
        if len(cdb) < _CDB_LENGTH[cdb[0] >> 5]:
            return 0, 0
        lba = struct.unpack_from(">I", cdb, 2)[0]
        if cdb[0] == READ_10:
            return lba, struct.unpack_from(">H", cdb, 7)[0]
        if cdb[0] == READ_12:
            return lba, struct.unpack_from(">I", cdb, 6)[0]
        return lba, int.from_bytes(cdb[6:9], "big")

    def _decode_read(self, cdb: bytes) -> tuple[int, int, Callable[[int, bytes, bool], bytes] | None]:
        """(lba, count, per-sector formatter or None for plain 2048-byte user data)."""
        opcode = cdb[0]
        if len(cdb) < _CDB_LENGTH[opcode >> 5]:
            raise _Check(INVALID_FIELD_IN_CDB)
        if opcode == READ_10:
            # 28 | flags | LBA (4) | group | length (2) | control
            lba, count = struct.unpack_from(">I", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0]
            return lba, count, None
        if opcode == READ_12:
            # A8 | flags | LBA (4) | length (4) | streaming/group | control
            lba, count = struct.unpack_from(">II", cdb, 2)
            return lba, count, None
        # READ CD: BE | sector type (bits 4-2) | LBA (4) | length (3) | fields | subchannel | control
        if self._family != "cd":
            raise _Check(ILLEGAL_MODE_FOR_THIS_TRACK)
        sector_type = (cdb[1] >> 2) & 0x07
        if sector_type in (1, 3, 4, 5):          # CD-DA, Mode 2: the one track is Mode 1
            raise _Check(ILLEGAL_MODE_FOR_THIS_TRACK)
        if sector_type > 5:
            raise _Check(INVALID_FIELD_IN_CDB)
        lba = struct.unpack_from(">I", cdb, 2)[0]
        count = int.from_bytes(cdb[6:9], "big")
        fields, subchannel = cdb[9], cdb[10] & 0x07
        c2 = (fields >> 1) & 0x03
        if subchannel or c2 == 3 or fields & 0x01:
            raise _Check(INVALID_FIELD_IN_CDB)
        if fields == 0x10:
            return lba, count, None
        return lba, count, self._raw_formatter(fields)

    def _raw_formatter(self, fields: int) -> Callable[[int, bytes, bool], bytes]:
        sync, header, user, edc_ecc = fields & 0x80, (fields >> 5) & 0x03 in (1, 3), fields & 0x10, fields & 0x08
        c2 = (fields >> 1) & 0x03

        def fmt(lba: int, data: bytes, unstable: bool) -> bytes:
            parts = []
            if sync:
                parts.append(SYNC)
            if header:   # Mode 1 has no subheader: header codes 10b/11b add nothing more
                m, s, f = _msf(lba)
                parts.append(bytes([_bcd(m), _bcd(s), _bcd(f), MODE_1]))
            if user:
                parts.append(data)
            if edc_ecc:
                parts.append(bytes(288))         # EDC (4), zero (8), ECC P+Q (276): left zero
            if c2:
                bits = b"\xff" * C2_BYTES if unstable else bytes(C2_BYTES)
                parts.append(bits if c2 == 1 else bits + (b"\x01\x00" if unstable else b"\x00\x00"))
            return b"".join(parts)

        return fmt

    def _read_command(self, cdb: bytes, data_in_length: int) -> Completion:
        p = self.profile
        lba, count = self._read_extent(cdb)
        try:
            pending = self._pending_condition(cdb[0])
            if pending is not None:
                raise _Check(pending)
            if cdb[0] in self._quirks.unsupported:
                raise _Check(INVALID_OPCODE)
            lba, count, fmt = self._decode_read(cdb)
            if lba + count > self.capacity:
                raise _Check(LBA_OUT_OF_RANGE)
        except _Check as check:
            self._log(f"{lba} {count} err " + "{:02X}/{:02X}/{:02X}".format(*check.sense))
            return self._fail(check, p.overhead_s, data_in_length)
        if count == 0:
            self._log(f"{lba} 0 ok")
            self._charge(p.overhead_s)
            self._good()
            return Completion(data=b"", status=GOOD, duration_s=p.overhead_s)

        rate = self._speed_x * p.rate_1x
        cost = p.overhead_s + self._seek_s(lba, rate) + count * SECTOR_BYTES / rate
        failing: tuple[int, tuple[int, int, int]] | None = None
        unstable: list[tuple[int, int]] = []
        for first, last, damage in self._damage.touched(lba, count):
            if damage.kind == "slow":
                cost += damage.delay_s * (last - first + 1)
            elif damage.kind == "unstable":
                unstable.append((first, last))
            elif damage.kind == "unreadable":
                if failing is None or first < failing[0]:
                    failing = (first, damage.sense)
            else:   # flaky: every touched sector counts one attempt, whatever the READ's outcome
                for sector in range(first, last + 1):
                    attempts = self._flaky_attempts.get(sector, 0) + 1
                    self._flaky_attempts[sector] = attempts
                    if attempts <= damage.failures and (failing is None or sector < failing[0]):
                        failing = (sector, damage.sense)
        if failing is not None:
            if self._quirks.medium_error_sense is not None:     # QEMU's ide-cd: every I/O error is 05/21/00
                failing = (failing[0], self._quirks.medium_error_sense)
            cost += p.error_delay_s
            self._head = None
            self._log(f"{lba} {count} err " + "{:02X}/{:02X}/{:02X}".format(*failing[1]))
            return self._fail(_Check(failing[1], failing[0]), cost, data_in_length)

        self._head = lba + count
        self._charge(cost)
        self._good()
        self._log(f"{lba} {count} ok")
        want = max(data_in_length, 0)
        data = self._true_bytes(lba, count)
        if unstable:
            data = bytearray(data)
            for first, last in unstable:
                for sector in range(first, last + 1):
                    at = (sector - lba) * SECTOR_BYTES
                    data[at:at + SECTOR_BYTES] = self._garble(bytes(data[at:at + SECTOR_BYTES]))
            data = bytes(data)
        if fmt is not None:
            bad = {s for first, last in unstable for s in range(first, last + 1)}
            data = b"".join(fmt(lba + i, data[i * SECTOR_BYTES:(i + 1) * SECTOR_BYTES], lba + i in bad)
                            for i in range(count))
        return Completion(data=data[:want], status=GOOD, duration_s=cost)

    def _garble(self, true: bytes) -> bytes:
        """An unstable sector's bytes this time: XOR with a never-zero pattern unique to this read."""
        self._unstable_reads += 1
        pattern = struct.pack(">Q", (1 << 63) | self._unstable_reads) * (SECTOR_BYTES // 8)
        return (int.from_bytes(true, "big") ^ int.from_bytes(pattern, "big")).to_bytes(SECTOR_BYTES, "big")

    def _seek_s(self, lba: int, rate: float) -> float:
        p = self.profile
        if self._head is None:
            return p.seek_base_s + p.seek_full_s / 2
        distance = lba - self._head
        if distance == 0:
            return 0.0
        if distance > 0:
            spin_s = distance * SECTOR_BYTES / rate     # the disc turns past a short forward gap
            if spin_s < p.seek_base_s:
                return spin_s
        return p.seek_base_s + p.seek_full_s * abs(distance) / self.capacity
