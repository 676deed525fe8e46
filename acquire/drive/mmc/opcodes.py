"""Every operation code we send, with its name: the one table of the real side.

guard.py's allowlist is built from OPCODE_NAMES, so a command mmc cannot build cannot be sent.
The simulated drive spells these again in sim/codes.py on purpose (it decodes CDBs without mmc,
to check it); tests/test_simulated.py asserts the two tables agree.
"""
from __future__ import annotations

# operation codes (docs/reference/mmc.md "Commands we send")
TEST_UNIT_READY = 0x00
REQUEST_SENSE = 0x03
INQUIRY = 0x12
START_STOP_UNIT = 0x1B
PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
READ_CAPACITY_10 = 0x25
READ_10 = 0x28
READ_SUB_CHANNEL = 0x42
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

# opcode -> the name MMC/SPC give the command (logs, refusals, fallbacks)
OPCODE_NAMES: dict[int, str] = {
    TEST_UNIT_READY: "TEST UNIT READY",
    REQUEST_SENSE: "REQUEST SENSE",
    INQUIRY: "INQUIRY",
    START_STOP_UNIT: "START STOP UNIT",
    PREVENT_ALLOW_MEDIUM_REMOVAL: "PREVENT ALLOW MEDIUM REMOVAL",
    READ_CAPACITY_10: "READ CAPACITY(10)",
    READ_10: "READ(10)",
    READ_SUB_CHANNEL: "READ SUB-CHANNEL",      # Q subchannel only: MCN and ISRC (media.py); reads, writes nothing
    READ_TOC: "READ TOC/PMA/ATIP",
    GET_CONFIGURATION: "GET CONFIGURATION",
    GET_EVENT_STATUS_NOTIFICATION: "GET EVENT STATUS NOTIFICATION",
    READ_DISC_INFORMATION: "READ DISC INFORMATION",
    READ_TRACK_INFORMATION: "READ TRACK INFORMATION",
    MODE_SELECT_10: "MODE SELECT(10)",
    MODE_SENSE_10: "MODE SENSE(10)",
    READ_12: "READ(12)",
    GET_PERFORMANCE: "GET PERFORMANCE",
    READ_DISC_STRUCTURE: "READ DISC STRUCTURE",
    SET_STREAMING: "SET STREAMING",
    SET_CD_SPEED: "SET CD SPEED",
    READ_CD: "READ CD",
}

# the user data of one sector (a mode 1 or mode 2 form 1 CD sector, a DVD or BD sector): the
# real side's one sector size; device.py re-exports it as SECTOR_BYTES
USER_DATA_BYTES = 2048
SECTOR_BYTES = USER_DATA_BYTES
MAX_LBA = 0xFFFF_FFFF


def opcode_name(opcode: int) -> str:
    """"READ(10)" for 28h; an opcode we never send reads "opcode 0Ah"."""
    return OPCODE_NAMES.get(opcode, f"opcode {opcode:02X}h")
