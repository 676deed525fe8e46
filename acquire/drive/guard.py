"""Read-only by construction: no opcode outside this allowlist ever reaches a transport."""
from __future__ import annotations

from ..errors import CommandRefused
from .mmc.opcodes import MODE_SELECT_10, OPCODE_NAMES, SET_STREAMING
from .transport import DEFAULT_TIMEOUT_S, Completion, Transport

# opcode -> name: every command mmc builds is a read-only one (docs/reference/mmc.md "Commands we send"),
# and nothing else may pass. tests/test_guard.py pins this set against the list of docs/reference/mmc.md "Commands we send", so a
# command added to mmc/opcodes.py is a deliberate change to the allowlist.
ALLOWED_OPCODES: dict[int, str] = dict(OPCODE_NAMES)
PERFORMANCE_DESCRIPTOR = 0x00        # SET STREAMING type 0: read speed only
READ_WRITE_ERROR_RECOVERY_PAGE = 0x01
MODE_PARAMETER_HEADER_10_LENGTH = 8


def check(cdb: bytes, data_out: bytes = b"") -> None:
    """Raise CommandRefused unless `cdb` is a read-only command we allow."""
    if not cdb:
        raise CommandRefused("empty CDB refused")
    opcode = cdb[0]
    if opcode not in ALLOWED_OPCODES:
        raise CommandRefused(f"opcode {opcode:02X}h is not on the read-only allowlist; refused before reaching the drive")
    if opcode == MODE_SELECT_10:
        _check_mode_select(cdb, data_out)
    elif opcode == SET_STREAMING and data_out:
        # SET STREAMING: byte 8 type; 00h is the performance descriptor (speed), anything else refused
        if len(cdb) < 12 or cdb[8] != PERFORMANCE_DESCRIPTOR:
            raise CommandRefused("SET STREAMING of a descriptor other than performance (type 00h) refused")
    elif data_out:
        raise CommandRefused(f"{ALLOWED_OPCODES[opcode]} with data-out refused: only MODE SELECT and SET STREAMING send data")


def _check_mode_select(cdb: bytes, data_out: bytes) -> None:
    # MODE SELECT(10): byte 1 bit 4 PF, bit 0 SP (save pages: changes the drive's saved state)
    if len(cdb) < 10 or cdb[1] & 0x01:
        raise CommandRefused("MODE SELECT with SP=1 (save pages) refused")
    # parameter list: 8-byte header, block descriptors (length in bytes 6-7), then pages
    if len(data_out) < MODE_PARAMETER_HEADER_10_LENGTH + 2:
        raise CommandRefused("MODE SELECT without a mode page refused")
    offset = MODE_PARAMETER_HEADER_10_LENGTH + int.from_bytes(data_out[6:8], "big")
    pages = data_out[offset:]
    while pages:
        if len(pages) < 2:
            raise CommandRefused("MODE SELECT with a truncated mode page refused")
        code, length = pages[0] & 0x3F, pages[1]
        if code != READ_WRITE_ERROR_RECOVERY_PAGE:
            raise CommandRefused(f"MODE SELECT of mode page {code:02X}h refused: only the error-recovery page 01h may change")
        pages = pages[2 + length:]
    if offset >= len(data_out):
        raise CommandRefused("MODE SELECT without a mode page refused")


class GuardedTransport:
    """Wraps any transport; every CDB passes `check` first. The only way the tool opens a drive."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.name = inner.name

    def execute(self, cdb: bytes, *, data_in_length: int = 0, data_out: bytes = b"",
                timeout_s: float = DEFAULT_TIMEOUT_S) -> Completion:
        check(cdb, data_out)
        return self.inner.execute(cdb, data_in_length=data_in_length, data_out=data_out, timeout_s=timeout_s)

    @property
    def clock_s(self) -> float:
        return self.inner.clock_s

    def wait(self, seconds: float) -> None:
        self.inner.wait(seconds)          # no CDB: nothing to check

    def close(self) -> None:
        self.inner.close()
