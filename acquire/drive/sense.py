"""Sense bytes -> Sense -> Action: what the engine does after a CHECK CONDITION.

Fixed (70h/71h) and descriptor (72h/73h) sense data as SPC-4 4.5 lays them out
(docs/reference/mmc.md "Sense data"); names from pyscsi's ASC/ASCQ table, with our own spelling
where it lacks an MMC code or spells one oddly.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import MalformedSense
from .spelling import parse_sense_text, sense_text

try:   # pyscsi is a dependency, but a name table is not worth failing an import over
    from pyscsi.pyscsi.scsi_sense import sense_ascq_dict as _PYSCSI_ASC_NAMES
except ImportError:  # pragma: no cover - pyscsi is installed wherever acquire is
    _PYSCSI_ASC_NAMES = {}

FIXED_CURRENT, FIXED_DEFERRED = 0x70, 0x71
DESCRIPTOR_CURRENT, DESCRIPTOR_DEFERRED = 0x72, 0x73
FIXED_SENSE_BYTES = 18                  # SPC-4 4.5.3: additional length 10 after byte 7
FIXED_ADDITIONAL_LENGTH = 10
INFORMATION_DESCRIPTOR = 0x00           # SPC-4 4.5.2.2
STREAM_COMMANDS_DESCRIPTOR = 0x04       # SPC-4 4.5.2.6: byte 3 bit 5 ILI
BLOCK_COMMANDS_DESCRIPTOR = 0x05        # SBC-3 4.18.2: byte 3 bit 5 ILI
VALID = 0x80
ILI = 0x20


class Action(enum.Enum):
    """What the engine does next; chosen by `classify` from SENSE_ACTIONS."""

    GOOD_BUT_MARGINAL = "good but marginal"      # data good, the sector needed retries or ECC
    BAD_SECTOR = "bad sector"                    # medium error: unreadable this pass, retry later
    WAIT_AND_RETRY = "wait and retry"            # not ready yet: wait, bounded
    STOP_NO_DISC = "stop: no disc"
    STOP_MEDIUM_CHANGED = "stop: medium changed" # another disc may be in the drive: check identity
    FALL_BACK = "fall back"                      # command or field unsupported: use another
    STOP_BUG = "stop: bug"                       # LBA out of range: wrong capacity, or our bug
    STOP_HARDWARE = "stop: hardware"
    RETRY_ABORTED = "retry aborted command"
    PROTECTED = "protected"                      # CSS / copy protection: record, do not loop
    UNKNOWN = "unknown"


# CHECK CONDITION -> what the engine does (docs/reference/mmc.md "The sense table"). (SK, ASC, ASCQ);
# None = any; most specific wins (see `classify`).
SENSE_ACTIONS: dict[tuple[int, int | None, int | None], Action] = {
    (0x01, None, None): Action.GOOD_BUT_MARGINAL,   # 01/17/xx recovered with retries, 01/18/xx with ECC
    (0x02, 0x04, None): Action.WAIT_AND_RETRY,      # 02/04/01 becoming ready (and 04/xx: not ready, cause)
    (0x02, 0x3A, None): Action.STOP_NO_DISC,        # 02/3A/00-02 medium not present (tray closed/open)
    (0x03, None, None): Action.BAD_SECTOR,          # 03/11/00 unrecovered, 11/05 L-EC, 11/06 CIRC, 02/00, 15/xx
    # 03/57/00 unable to recover TOC: the medium, not a sector; no separate action, so every
    # read fails as a bad sector and the map shows the whole disc unreadable
    (0x03, 0x57, 0x00): Action.BAD_SECTOR,
    (0x04, None, None): Action.STOP_HARDWARE,       # 04/xx/xx hardware error: the drive may be failing
    (0x05, None, None): Action.FALL_BACK,           # 05/20/00 opcode, 05/24/00 CDB field, 05/26/00 parameter
    (0x05, 0x21, 0x00): Action.STOP_BUG,            # LBA out of range: wrong capacity or our bug
    (0x05, 0x64, 0x00): Action.FALL_BACK,           # illegal mode for this track: READ CD, not READ(10)
    (0x05, 0x6F, None): Action.PROTECTED,           # 05/6F/0x CSS / key exchange: protected DVD sector
    (0x06, None, None): Action.STOP_MEDIUM_CHANGED, # any UNIT ATTENTION: assume another disc until checked
    (0x06, 0x28, 0x00): Action.STOP_MEDIUM_CHANGED, # not ready to ready change, medium may have changed
    (0x06, 0x29, None): Action.STOP_MEDIUM_CHANGED, # 06/29/0x power on / reset: re-check identity
    (0x0B, None, None): Action.RETRY_ABORTED,       # aborted command: retry a bounded number of times
    (0x0B, 0x00, 0x06): Action.RETRY_ABORTED,       # QEMU's emulated drive on a backend I/O error (docs/reference/qemu.md)
}

# SPC-4 table 48 (sense key descriptions), spelled as the standard does
SENSE_KEY_NAMES: dict[int, str] = {
    0x0: "NO SENSE", 0x1: "RECOVERED ERROR", 0x2: "NOT READY", 0x3: "MEDIUM ERROR",
    0x4: "HARDWARE ERROR", 0x5: "ILLEGAL REQUEST", 0x6: "UNIT ATTENTION", 0x7: "DATA PROTECT",
    0x8: "BLANK CHECK", 0x9: "VENDOR SPECIFIC", 0xA: "COPY ABORTED", 0xB: "ABORTED COMMAND",
    0xD: "VOLUME OVERFLOW", 0xE: "MISCOMPARE", 0xF: "COMPLETED",
}

# (ASC, ASCQ) names pyscsi 2.1 lacks or spells oddly; wording from SPC-4 annex D as
# sg3_utils lib/sg_lib_data.c carries it
_ASC_NAME_OVERRIDES: dict[tuple[int, int], str] = {
    (0x00, 0x00): "NO ADDITIONAL SENSE INFORMATION",        # pyscsi: missing
    (0x24, 0x00): "INVALID FIELD IN CDB",                   # pyscsi: "Invalid Field In CDB"
    (0x6F, 0x08): "INSUFFICIENT PERMISSION",                # MMC copy protection; pyscsi: missing
    (0x6F, 0x09): "INVALID DRIVE-HOST PAIRING SERVER",      # pyscsi: missing
    (0x6F, 0x0A): "DRIVE-HOST PAIRING SUSPENDED",           # pyscsi: missing
}


@dataclass(frozen=True, slots=True)
class Sense:
    key: int
    asc: int
    ascq: int
    information: int | None = None   # VALID set: the INFORMATION field (a failed READ: first bad LBA)
    ili: bool = False                # incorrect length indicator
    deferred: bool = False           # 71h/73h: the error belongs to an earlier command

    def __str__(self) -> str:        # the one spelling used in logs, the record and profiles
        return sense_text(self.key, self.asc, self.ascq)

    @property
    def name(self) -> str:
        return sense_name(self.key, self.asc, self.ascq)

    @property
    def key_name(self) -> str:
        return _key_name(self.key)

    @property
    def action(self) -> Action:
        return classify(self)


def parse_sense(data: bytes) -> Sense:
    """Fixed (70h/71h) or descriptor (72h/73h) sense data (SPC-4 4.5); anything else raises."""
    code = data[0] & 0x7F if data else None
    if code in (FIXED_CURRENT, FIXED_DEFERRED) and len(data) >= 14:
        # byte 0 bit 7 VALID, bits 6-0 response code; byte 2 bit 5 ILI, bits 3-0 sense key;
        # bytes 3-6 INFORMATION, big-endian; byte 7 additional length; byte 12 ASC; byte 13 ASCQ
        information = struct.unpack_from(">I", data, 3)[0] if data[0] & VALID else None
        return Sense(data[2] & 0x0F, data[12], data[13], information,
                     ili=bool(data[2] & ILI), deferred=code == FIXED_DEFERRED)
    if code in (DESCRIPTOR_CURRENT, DESCRIPTOR_DEFERRED) and len(data) >= 8:
        # byte 1 bits 3-0 sense key; byte 2 ASC; byte 3 ASCQ; byte 7 additional length;
        # descriptors from byte 8, each: byte 0 type, byte 1 additional length, then its body
        end = min(len(data), 8 + data[7])
        information, ili = _descriptors(data[8:end])
        return Sense(data[1] & 0x0F, data[2], data[3], information,
                     ili=ili, deferred=code == DESCRIPTOR_DEFERRED)
    raise MalformedSense(f"cannot decode sense data {bytes(data[:8]).hex(' ') or '(empty)'}")


def _descriptors(body: bytes) -> tuple[int | None, bool]:
    """(INFORMATION if a valid information descriptor is there, ILI) from a descriptor list.

    A list cut short by the sense buffer (the kernel keeps at most mx_sb_len bytes) just ends:
    the sense key and ASC/ASCQ above it are still good.
    """
    information, ili = None, False
    offset = 0
    while offset + 2 <= len(body):
        kind, length = body[offset], body[offset + 1]
        descriptor = body[offset:offset + 2 + length]
        if len(descriptor) < 2 + length:
            break
        if kind == INFORMATION_DESCRIPTOR and length >= 0x0A and descriptor[2] & VALID:
            # byte 2 bit 7 VALID; bytes 4-11 INFORMATION, 64-bit big-endian
            information = struct.unpack_from(">Q", descriptor, 4)[0]
        elif kind in (STREAM_COMMANDS_DESCRIPTOR, BLOCK_COMMANDS_DESCRIPTOR) and length >= 2:
            ili = ili or bool(descriptor[3] & ILI)
        offset += 2 + length
    return information, ili


def classify(sense: Sense) -> Action:
    """The most specific SENSE_ACTIONS row: (key, asc, ascq), then (key, asc, any), then (key, any, any)."""
    for row in ((sense.key, sense.asc, sense.ascq), (sense.key, sense.asc, None), (sense.key, None, None)):
        action = SENSE_ACTIONS.get(row)
        if action is not None:
            return action
    return Action.UNKNOWN


def _key_name(key: int) -> str:
    return SENSE_KEY_NAMES.get(key, f"SENSE KEY {key:X}h")


def _asc_name(asc: int, ascq: int) -> str:
    name = _ASC_NAME_OVERRIDES.get((asc, ascq)) or _PYSCSI_ASC_NAMES.get(asc << 8 | ascq)
    if name:
        return name
    if asc >= 0x80 or ascq >= 0x80:   # SPC-4 D.2: ASC or ASCQ 80h-FFh are vendor specific
        return f"ASC {asc:02X}h ASCQ {ascq:02X}h (vendor specific)"
    return f"ASC {asc:02X}h ASCQ {ascq:02X}h"


def sense_name(key: int, asc: int, ascq: int) -> str:
    """"MEDIUM ERROR: UNRECOVERED READ ERROR"; unknown codes read "ASC 11h ASCQ 7Fh", never KeyError."""
    return f"{_key_name(key)}: {_asc_name(asc, ascq)}"


def build_fixed_sense(key: int, asc: int, ascq: int, information: int | None = None,
                      ili: bool = False) -> bytes:
    """18 bytes of current fixed-format sense (70h; F0h with VALID), as a drive sends it."""
    if not (0 <= key <= 0x0F and 0 <= asc <= 0xFF and 0 <= ascq <= 0xFF):
        raise ValueError(f"sense {key}/{asc}/{ascq} out of range: key 0-Fh, ASC and ASCQ 00h-FFh")
    if information is not None and not 0 <= information <= 0xFFFF_FFFF:
        raise ValueError(f"INFORMATION {information} does not fit the fixed format's 32 bits")
    # byte 0 VALID | 70h; byte 1 obsolete; byte 2 ILI | key; 3-6 INFORMATION; 7 additional
    # length 10; 8-11 command-specific; 12 ASC; 13 ASCQ; 14 FRU code; 15-17 sense-key specific
    return struct.pack(">BBBIBIBBB3x", FIXED_CURRENT | (VALID if information is not None else 0), 0,
                       key | (ILI if ili else 0), information or 0, FIXED_ADDITIONAL_LENGTH, 0,
                       asc, ascq, 0)


def parse_sense_spec(text: str) -> tuple[int, int, int]:
    """"03/11/05" (hex key/ASC/ASCQ, as profiles and logs write it) -> (3, 0x11, 5)."""
    return parse_sense_text(text)
