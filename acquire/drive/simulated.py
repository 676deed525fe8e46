"""SimulatedDrive: an MMC target over an image (or generated content) and a damage profile.

It decodes the CDB bytes it is sent and answers with data, or CHECK CONDITION and 18 bytes of
fixed-format sense, as a drive does. It deliberately shares no code with mmc.py or sense.py: its
byte layouts come from reference/mmc.md, so tests through it are an independent check on them.
Nothing sleeps: each command is charged to a simulated clock (DESIGN.md "The clock").

Decisions where the spec is silent (keep docs/ in step):
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
  it up; REQUEST SENSE returns the pending sense as data and uses it up (SPC). Otherwise REQUEST
  SENSE returns the sense of the previous command (empty 70h sense after a GOOD one).
- The error-recovery page's read retry count is kept and reported but does not change the clock:
  error_delay_s is the profile's, as DESIGN.md's formula says.
- SET CD SPEED / SET STREAMING clamp the speed to [1x, speed_x] and trace `speed X` every time
  they succeed. READ DISC STRUCTURE on a cd-rom is 05/24/00 (QEMU says 05/30/00).
- MODE SENSE page control 3 (saved) is 05/39/00 (saving parameters not supported).
- timeout_s is ignored: a slow READ completes however long it is charged.
"""
from __future__ import annotations

import os
import struct
import time
from typing import Callable

from ..errors import DriveGone, ProfileError
from .simulated_profile import SECTOR_BYTES, DamageMap, Profile, load_profile
from .transport import CHECK_CONDITION, DEFAULT_TIMEOUT_S, GOOD, Completion

# operation codes (reference/mmc.md "Commands we send")
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

# (SK, ASC, ASCQ)
NOT_READY_BECOMING_READY = (0x02, 0x04, 0x01)
MEDIUM_MAY_HAVE_CHANGED = (0x06, 0x28, 0x00)
INVALID_OPCODE = (0x05, 0x20, 0x00)
LBA_OUT_OF_RANGE = (0x05, 0x21, 0x00)
INVALID_FIELD_IN_CDB = (0x05, 0x24, 0x00)
PARAMETER_LIST_LENGTH_ERROR = (0x05, 0x1A, 0x00)
INVALID_FIELD_IN_PARAMETER_LIST = (0x05, 0x26, 0x00)
SAVING_PARAMETERS_NOT_SUPPORTED = (0x05, 0x39, 0x00)
MEDIUM_REMOVAL_PREVENTED = (0x05, 0x53, 0x02)
ILLEGAL_MODE_FOR_THIS_TRACK = (0x05, 0x64, 0x00)

_CDB_LENGTH = {0: 6, 1: 10, 2: 10, 5: 12}          # by opcode group (bits 7-5)
_NO_ATTENTION = {INQUIRY, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION}
_READS = {READ_10, READ_12, READ_CD}
# SET CD SPEED kB/s that make 1x (reference/mmc.md "SET CD SPEED")
KBPS_1X = {"cd": 176, "dvd": 1385, "bd": 4496}
MAX_SPEED = 0xFFFF

SYNC = b"\x00" + b"\xff" * 10 + b"\x00"
MODE_1 = 0x01
C2_BYTES = 294
PAGE_ERROR_RECOVERY = 0x01
PAGE_CAPABILITIES = 0x2A
ALL_PAGES = 0x3F
# page 01h: byte 2 bits TB 20h, RC 10h, PER 04h, DCR 01h and byte 3 (read retry count) may change
_ERROR_RECOVERY_DEFAULT = bytes([PAGE_ERROR_RECOVERY, 0x0A, 0x00, 32, 0, 0, 0, 0, 0, 0, 0, 0])
_ERROR_RECOVERY_CHANGEABLE = bytes([PAGE_ERROR_RECOVERY, 0x0A, 0x35, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0])
DVD_DATA_AREA_START = 0x030000                     # first physical sector number of a DVD-ROM

_GENERATED_SEED = 0x5EED_AC0D_15C0_0001
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E37_79B9_7F4A_7C15


def generated_sector(lba: int) -> bytes:
    """The 2048 bytes of `lba` on a `sectors = N` disc: 16 bytes (LBA, mixed LBA) repeated.

    Distinct per LBA, deterministic, about a microsecond. Byte 0..5 of any LBA below 2^40 are
    zero, so no generated sector is an ISO 9660 or UDF descriptor ("CD001", "BEA01" at byte 1).
    """
    return struct.pack(">QQ", lba, ((lba ^ _GENERATED_SEED) * _GOLDEN) & _MASK64) * 128


def _sense(key_asc_ascq: tuple[int, int, int], information: int | None = None) -> bytes:
    # fixed format (SPC-4 4.5.3): byte 0 70h current, bit 7 VALID; byte 2 bits 3-0 sense key;
    # bytes 3-6 INFORMATION; byte 7 additional length (10); byte 12 ASC; byte 13 ASCQ
    key, asc, ascq = key_asc_ascq
    valid = information is not None
    return struct.pack(">BBBIBIBBBBH", 0x70 | (0x80 if valid else 0), 0, key,
                       (information or 0) & 0xFFFF_FFFF, 10, 0, asc, ascq, 0, 0, 0)


class _Check(Exception):
    """Inside the drive only: the command ends in CHECK CONDITION with this sense."""

    def __init__(self, key_asc_ascq: tuple[int, int, int], information: int | None = None) -> None:
        super().__init__(key_asc_ascq)
        self.sense = key_asc_ascq
        self.information = information


def _bcd(n: int) -> int:
    return (n // 10) << 4 | n % 10


def _msf(lba: int) -> tuple[int, int, int]:
    """Absolute MSF of an LBA (reference/mmc.md: LBA = (M*60 + S)*75 + F - 150)."""
    x = lba + 150
    return x // 4500, x // 75 % 60, x % 75


class SimulatedDrive:
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
            return self._fail(check, cost)
        self._charge(cost)
        self._last_sense = b""
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
                self._last_sense = _sense(pending)
            else:
                raise _Check(pending)
        if opcode is None or opcode not in self._handlers:
            raise _Check(INVALID_OPCODE)
        if len(cdb) < _CDB_LENGTH.get(opcode >> 5, 12):
            raise _Check(INVALID_FIELD_IN_CDB)
        return self._handlers[opcode](cdb, data_out)

    def _fail(self, check: _Check, cost: float) -> Completion:
        info = check.information if self.profile.report_information else None
        sense = _sense(check.sense, info)
        self._last_sense = sense
        self._charge(cost)
        return Completion(data=b"", status=CHECK_CONDITION, sense=sense, duration_s=cost)

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
            lba, count, fmt = self._decode_read(cdb)
            if lba + count > self.capacity:
                raise _Check(LBA_OUT_OF_RANGE)
        except _Check as check:
            self._log(f"{lba} {count} err " + "{:02X}/{:02X}/{:02X}".format(*check.sense))
            return self._fail(check, p.overhead_s)
        if count == 0:
            self._log(f"{lba} 0 ok")
            self._charge(p.overhead_s)
            self._last_sense = b""
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
            cost += p.error_delay_s
            self._head = None
            self._log(f"{lba} {count} err " + "{:02X}/{:02X}/{:02X}".format(*failing[1]))
            return self._fail(_Check(failing[1], failing[0]), cost)

        self._head = lba + count
        self._charge(cost)
        self._last_sense = b""
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

    # -- other commands: each returns its data cut to the CDB's allocation length; execute()
    # -- then cuts it to data_in_length, as the HBA would
    def _request_sense(self, cdb: bytes, out: bytes) -> bytes:
        # 03 | DESC (bit 0) | 00 | 00 | allocation length | control. Fixed format only.
        sense = self._last_sense or _sense((0, 0, 0))
        return sense[:cdb[4]]

    def _inquiry(self, cdb: bytes, out: bytes) -> bytes:
        # 12 | EVPD (bit 0) | page code | allocation length (2) | control
        evpd, page, length = cdb[1] & 0x01, cdb[2], struct.unpack_from(">H", cdb, 3)[0]
        p = self.profile
        if not evpd:
            if page:
                raise _Check(INVALID_FIELD_IN_CDB)
            # byte 0 device type 05h; byte 1 bit 7 RMB; byte 2 version; byte 3 response format 2;
            # byte 4 additional length; 8-15 vendor, 16-31 product, 32-35 revision
            data = (bytes([0x05, 0x80, 0x05, 0x02, 31, 0, 0, 0]) + p.vendor.ljust(8).encode("ascii")
                    + p.product.ljust(16).encode("ascii") + p.revision.ljust(4).encode("ascii"))
            return data[:length]
        pages = [0x00, 0x80] if p.serial else [0x00]
        if page not in pages:
            raise _Check(INVALID_FIELD_IN_CDB)
        body = bytes(pages) if page == 0x00 else p.serial.encode("ascii")
        # byte 0 device type; byte 1 page code; byte 3 page length
        return (bytes([0x05, page, 0, len(body)]) + body)[:length]

    def _start_stop_unit(self, cdb: bytes, out: bytes) -> bytes:
        # 1B | IMMED | 00 | 00 | power condition (7-4), LoEj (bit 1), Start (bit 0) | control
        if cdb[4] & 0x03 == 0x02 and self._prevent:      # eject while removal is prevented
            raise _Check(MEDIUM_REMOVAL_PREVENTED)
        return b""

    def _prevent_allow(self, cdb: bytes, out: bytes) -> bytes:
        # 1E | 00 | 00 | 00 | prevent (bits 1-0: 00b allow, 01b prevent) | control
        if cdb[4] & 0x03 > 1:
            raise _Check(INVALID_FIELD_IN_CDB)
        self._prevent = bool(cdb[4] & 0x01)
        return b""

    def _read_capacity(self, cdb: bytes, out: bytes) -> bytes:
        # 8 bytes: last LBA, block length
        return struct.pack(">II", self.capacity - 1, SECTOR_BYTES)

    def _read_toc(self, cdb: bytes, out: bytes) -> bytes:
        # 43 | MSF (bit 1) | format (bits 3-0) | 000000 | track/session | allocation (2) | control
        msf, fmt, track, length = cdb[1] & 0x02, cdb[2] & 0x0F, cdb[6], struct.unpack_from(">H", cdb, 7)[0]
        if fmt == 0 and cdb[9] >> 6:      # SFF-8020 drives take the format from byte 9 bits 7-6
            fmt = cdb[9] >> 6

        def address(lba: int) -> bytes:
            return bytes([0, *_msf(lba)]) if msf else struct.pack(">I", lba)

        if fmt == 0:
            # header: length (2), first track, last track; 8-byte descriptors:
            # reserved, ADR/CONTROL (14h: ADR 1, data track), track, reserved, address (4)
            if track not in (0, 1, 0xAA):
                raise _Check(INVALID_FIELD_IN_CDB)
            tracks = ([1] if track <= 1 else []) + [0xAA]
            body = b"".join(bytes([0, 0x14, t, 0]) + address(0 if t == 1 else self.capacity) for t in tracks)
        elif fmt == 1:
            # session info: first/last session 1; one descriptor for the first track of the last session
            body = bytes([0, 0x14, 1, 0]) + address(0)
        elif fmt == 2 and self._family == "cd":
            # full TOC, 11-byte descriptors: session, ADR/CONTROL, TNO, POINT, MIN, SEC, FRAME,
            # ZERO, PMIN, PSEC, PFRAME (binary MSF)
            def entry(point: int, pmsf: tuple[int, int, int]) -> bytes:
                return bytes([1, 0x14, 0, point, 0, 0, 0, 0, *pmsf])
            body = (entry(0xA0, (1, 0x00, 0)) + entry(0xA1, (1, 0, 0)) + entry(0xA2, _msf(self.capacity))
                    + entry(0x01, _msf(0)))
        else:
            raise _Check(INVALID_FIELD_IN_CDB)
        return (struct.pack(">HBB", len(body) + 2, 1, 1) + body)[:length]

    def _read_disc_information(self, cdb: bytes, out: bytes) -> bytes:
        # 51 | data type (bits 2-0) | 00000000 | allocation (2) | control
        if cdb[1] & 0x07:
            raise _Check(INVALID_FIELD_IN_CDB)
        length = struct.unpack_from(">H", cdb, 7)[0]
        # byte 2: last session state (3-2) complete, disc status (1-0) complete = 0Eh; byte 3 first
        # track; 4 sessions; 5 first track of last session; 6 last track of last session; 8 disc
        # type 00h; 16-19 last session lead-in, 20-23 last possible lead-out: FFFFFFFFh (none)
        data = (struct.pack(">HBBBBBBBB", 32, 0x0E, 1, 1, 1, 1, 0, 0x00, 0) + bytes(6)
                + b"\xff" * 8 + bytes(10))
        return data[:length]

    def _read_track_information(self, cdb: bytes, out: bytes) -> bytes:
        # 52 | address type (bits 1-0) | address (4) | 00 | allocation (2) | control
        kind, address, length = cdb[1] & 0x03, struct.unpack_from(">I", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0]
        if kind == 0:
            if address >= self.capacity:
                raise _Check(LBA_OUT_OF_RANGE)
        elif kind not in (1, 2) or address != 1:       # track 1 / session 1 is all there is
            raise _Check(INVALID_FIELD_IN_CDB)
        # 0-1 length (46); 2 track; 3 session; 5 track mode 4 (data); 6 data mode 1; 8-11 start;
        # 12-15 next writable; 16-19 free blocks; 20-23 fixed packet size; 24-27 track size;
        # 28-31 last recorded address
        data = (struct.pack(">HBBBBBB", 46, 1, 1, 0, 0x04, 0x01, 0)
                + struct.pack(">IIIIII", 0, 0, 0, 0, self.capacity, self.capacity - 1) + bytes(16))
        return data[:length]

    def _features(self) -> list[tuple[int, bool, bytes]]:
        """(code, current, descriptor) for every feature, sorted by code."""
        p = self.profile
        order = {"cd": [0x0008], "dvd": [0x0010, 0x0008], "bd": [0x0040, 0x0010, 0x0008]}[self._family]
        profiles = b"".join(struct.pack(">HBB", n, 1 if n == p.profile_number else 0, 0) for n in order)

        def feature(code: int, version: int, persistent: bool, current: bool, body: bytes) -> tuple[int, bool, bytes]:
            # bytes 0-1 code; byte 2 version (5-2), persistent (1), current (0); byte 3 length
            flags = version << 2 | (0x02 if persistent else 0) | (0x01 if current else 0)
            return code, current, struct.pack(">HBB", code, flags, len(body)) + body

        family = self._family
        out = [feature(0x0000, 0, True, True, profiles),
               # core: physical interface 1 (SCSI family), byte 8 bit 0 DBE
               feature(0x0001, 2, True, True, struct.pack(">IBBBB", 1, 0x01, 0, 0, 0)),
               # CD read: byte 4 bit 1 C2 flags
               feature(0x001E, 2, False, family == "cd", bytes([0x02, 0, 0, 0]))]
        if family in ("dvd", "bd"):
            out.append(feature(0x001F, 1, False, family == "dvd", bytes(4)))
        if family == "bd":
            # BD read: 4 reserved, BD-RE (8), BD-R (8), BD-ROM class 0-3 (8): BD-ROM class 0 version 1
            out.append(feature(0x0040, 1, False, True, bytes(20) + struct.pack(">HHHH", 0x0002, 0, 0, 0)))
        if p.serial:
            serial = p.serial.encode("ascii")
            serial += b" " * (-len(serial) % 4)
            out.append(feature(0x0108, 0, True, True, serial))
        return out

    def _get_configuration(self, cdb: bytes, out: bytes) -> bytes:
        # 46 | RT (bits 1-0) | starting feature (2) | 000000 | allocation (2) | control
        rt, start, length = cdb[1] & 0x03, struct.unpack_from(">H", cdb, 2)[0], struct.unpack_from(">H", cdb, 7)[0]
        if rt == 3:
            raise _Check(INVALID_FIELD_IN_CDB)
        chosen = [d for code, current, d in self._features()
                  if (rt == 0 and code >= start) or (rt == 1 and code >= start and current)
                  or (rt == 2 and code == start)]
        body = b"".join(chosen)
        # header: 0-3 data length (bytes after this field), 4-5 reserved, 6-7 current profile
        return (struct.pack(">IHH", len(body) + 4, 0, self.profile.profile_number) + body)[:length]

    def _get_event_status(self, cdb: bytes, out: bytes) -> bytes:
        # 4A | polled (bit 0) | 0000 | class request | 0000 | allocation (2) | control
        if not cdb[1] & 0x01:
            raise _Check(INVALID_FIELD_IN_CDB)     # asynchronous notification is not supported
        length = struct.unpack_from(">H", cdb, 7)[0]
        media_class = 0x10
        if not cdb[4] & media_class:
            # header only: length 2, NEA (bit 7) with class 0, supported classes: media
            return struct.pack(">HBB", 2, 0x80, media_class)[:length]
        event = 4 if self._media_event else 0     # 4: media changed, reported once
        self._media_event = False
        # header: length, class 4 (media), supported classes; descriptor: event code,
        # media status (bit 1 present, bit 0 tray open), start slot, end slot
        return struct.pack(">HBBBBBB", 6, 0x04, media_class, event, 0x02, 0, 0)[:length]

    def _error_recovery_page(self, pc: int) -> bytes:
        return bytes(self._error_recovery if pc == 0 else
                     _ERROR_RECOVERY_CHANGEABLE if pc == 1 else _ERROR_RECOVERY_DEFAULT)

    def _capabilities_page(self, pc: int) -> bytes:
        # 22 bytes (page length 14h): byte 2 read CD-R/CD-RW (bits 0-1), DVD-ROM (3), DVD-R (4);
        # byte 5 bit 4 C2 pointers; byte 6 tray (001b in 7-5), eject (3), lock state (1), lock (0);
        # 8-9 maximum read speed kB/s; 12-13 buffer kB; 14-15 current read speed kB/s
        if pc == 1:
            return bytes([PAGE_CAPABILITIES, 0x14]) + bytes(20)
        unit = KBPS_1X[self._family]
        top = round(self.profile.speed_x * unit)
        current = top if pc == 2 else round(self._speed_x * unit)
        reads = 0x03 if self._family == "cd" else 0x1B
        mechanism = 0x29 | (0x02 if self._prevent and pc == 0 else 0)
        return (bytes([PAGE_CAPABILITIES, 0x14, reads, 0, 0, 0x10, mechanism, 0])
                + struct.pack(">HHHH", min(top, 0xFFFF), 0, 2048, min(current, 0xFFFF)) + bytes(6))

    def _mode_sense(self, cdb: bytes, out: bytes) -> bytes:
        # 5A | DBD (bit 3) | PC (7-6), page (5-0) | subpage | 000000 | allocation (2) | control
        pc, page, length = cdb[2] >> 6, cdb[2] & 0x3F, struct.unpack_from(">H", cdb, 7)[0]
        if pc == 3:
            raise _Check(SAVING_PARAMETERS_NOT_SUPPORTED)
        if cdb[3] or page not in (PAGE_ERROR_RECOVERY, PAGE_CAPABILITIES, ALL_PAGES):
            raise _Check(INVALID_FIELD_IN_CDB)
        pages = b""
        if page in (PAGE_ERROR_RECOVERY, ALL_PAGES):
            pages += self._error_recovery_page(pc)
        if page in (PAGE_CAPABILITIES, ALL_PAGES):
            pages += self._capabilities_page(pc)
        # header: 0-1 mode data length (after this field), 2 medium type, 6-7 block descriptor length 0
        return (struct.pack(">HBBHH", len(pages) + 6, 0, 0, 0, 0) + pages)[:length]

    def _mode_select(self, cdb: bytes, out: bytes) -> bytes:
        # 55 | PF (bit 4), SP (bit 0) | 0000000000 | parameter list length (2) | control
        if cdb[1] & 0x01:
            raise _Check(INVALID_FIELD_IN_CDB)
        length = struct.unpack_from(">H", cdb, 7)[0]
        if len(out) < length or length < 8:
            raise _Check(PARAMETER_LIST_LENGTH_ERROR)
        params = out[:length]
        offset = 8 + struct.unpack_from(">H", params, 6)[0]
        changes: list[bytes] = []
        while offset < len(params):
            if offset + 2 > len(params):
                raise _Check(PARAMETER_LIST_LENGTH_ERROR)
            code, size = params[offset] & 0x3F, params[offset + 1]
            page = params[offset:offset + 2 + size]
            if len(page) != 2 + size:
                raise _Check(PARAMETER_LIST_LENGTH_ERROR)
            if code == PAGE_ERROR_RECOVERY:
                current, mask = bytes(self._error_recovery), _ERROR_RECOVERY_CHANGEABLE
            elif code == PAGE_CAPABILITIES:
                current, mask = self._capabilities_page(0), bytes(22)
            else:
                raise _Check(INVALID_FIELD_IN_PARAMETER_LIST)
            if size != current[1] or any((new ^ old) & ~m & 0xFF for new, old, m in
                                         zip(page[2:], current[2:], mask[2:])):
                raise _Check(INVALID_FIELD_IN_PARAMETER_LIST)
            if code == PAGE_ERROR_RECOVERY:
                changes.append(page)
            offset += 2 + size
        for page in changes:      # all or nothing: applied only once every page is checked
            self._error_recovery[2:] = page[2:]
        return b""

    def _set_speed(self, speed_x: float) -> None:
        self._speed_x = min(max(speed_x, 1.0), float(self.profile.speed_x))
        self._log(f"speed {self._speed_x:g}")

    def _set_cd_speed(self, cdb: bytes, out: bytes) -> bytes:
        # BB | rotational control | read speed kB/s (2) | write speed kB/s (2) | 000000 | control
        kbps = struct.unpack_from(">H", cdb, 2)[0]
        self._set_speed(float(self.profile.speed_x) if kbps == MAX_SPEED else kbps / KBPS_1X[self._family])
        return b""

    def _set_streaming(self, cdb: bytes, out: bytes) -> bytes:
        # B6 | 00 x7 | type | parameter list length (2) | control; type 0: performance descriptor
        # (28 bytes): byte 0 bit 2 RDD; 4-7 start LBA; 8-11 end LBA; 12-15 read size kB;
        # 16-19 read time ms; 20-23 write size; 24-27 write time
        if cdb[8] != 0:
            raise _Check(INVALID_FIELD_IN_CDB)
        length = struct.unpack_from(">H", cdb, 9)[0]
        if length < 28 or len(out) < 28:
            raise _Check(PARAMETER_LIST_LENGTH_ERROR)
        flags, _start, _end, read_kb, read_ms = struct.unpack_from(">B3xIIII", out, 0)
        if flags & 0x04:
            self._set_speed(float(self.profile.speed_x))
            return b""
        if read_ms == 0:
            raise _Check(INVALID_FIELD_IN_PARAMETER_LIST)
        self._set_speed(read_kb * 1000 / read_ms / KBPS_1X[self._family])
        return b""

    def _get_performance(self, cdb: bytes, out: bytes) -> bytes:
        # AC | data type | start LBA (4) | 0000 | maximum descriptors (2) | type | control
        most, kind = struct.unpack_from(">H", cdb, 8)[0], cdb[10]
        if kind == 0x00:
            if cdb[1] & 0x04:                       # write performance: a ROM drive has none
                descriptors = b""
            else:
                kbps = round(self._speed_x * KBPS_1X[self._family])
                # start LBA, start performance kB/s, end LBA, end performance kB/s
                descriptors = struct.pack(">IIII", 0, kbps, self.capacity - 1, kbps)[:16 * most]
        elif kind == 0x03:                          # write speed descriptors: none
            descriptors = b""
        else:
            raise _Check(INVALID_FIELD_IN_CDB)
        # header: 0-3 performance data length (after this field), byte 4 bit 1 write, bit 0 except
        write = 0x02 if cdb[1] & 0x04 else 0x00
        return struct.pack(">IBxxx", len(descriptors) + 4, write) + descriptors

    def _read_disc_structure(self, cdb: bytes, out: bytes) -> bytes:
        # AD | media type (3-0) | address (4) | layer | format | allocation (2) | AGID | control
        media, layer, fmt = cdb[1] & 0x0F, cdb[6], cdb[7]
        length = struct.unpack_from(">H", cdb, 8)[0]
        allowed_media = {"cd": (), "dvd": (0,), "bd": (0, 1)}[self._family]
        if media not in allowed_media:
            raise _Check(INVALID_FIELD_IN_CDB)
        if fmt == 0x00:
            if layer:
                raise _Check(INVALID_FIELD_IN_CDB)
            # byte 0 book type 0 (DVD-ROM), part version 1; byte 1 disc size 0 (120 mm), maximum
            # rate Fh (not specified); byte 2 one layer, PTP, layer type 1 (embossed); byte 3
            # densities; 4-7 data area start; 8-11 data area end; 12-15 end in layer 0; byte 16 BCA
            body = (bytes([0x01, 0x0F, 0x01, 0x00]) + struct.pack(">III", DVD_DATA_AREA_START,
                    DVD_DATA_AREA_START + self.capacity - 1, 0) + bytes(2048 - 16))
        elif fmt == 0x01:
            body = bytes(4)     # copyright protection type 0 (none), region mask 0 (all regions)
        elif fmt == 0xFF:
            # list of structures: format, byte 1 bit 6 RDS (readable), length (2)
            body = b"".join(struct.pack(">BBH", f, 0x40, n) for f, n in ((0x00, 2048), (0x01, 4), (0xFF, 12)))
        else:
            raise _Check(INVALID_FIELD_IN_CDB)
        # header: 0-1 data length (after this field), 2-3 reserved
        return (struct.pack(">HH", len(body) + 2, 0) + body)[:length]
