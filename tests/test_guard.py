"""The read-only guarantee: only allowlisted opcodes reach a transport (docs/reference/contracts.md "Read-only by construction")."""
import pytest

from acquire.drive.guard import ALLOWED_OPCODES, GuardedTransport, check
from acquire.drive.transport import Completion
from acquire.errors import CommandRefused

# docs/reference/mmc.md: the allowlist, spelled out independently of guard.py
EXPECTED_ALLOWED = {0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0x42, 0x43, 0x46, 0x4A, 0x51, 0x52, 0x55, 0x5A,
                    0xA8, 0xAC, 0xAD, 0xB6, 0xBB, 0xBE}
# a MODE SELECT(10) parameter list for page 01h: header of 8 zero bytes, then the 12-byte page
PAGE_01_PARAMETERS = bytes(8) + bytes.fromhex("01 0a 04 20 00 00 00 00 00 00 00 00")


class Recorder:
    name = "recorder"
    clock_s = 0.0

    def __init__(self):
        self.seen = []

    def execute(self, cdb, *, data_in_length=0, data_out=b"", timeout_s=30.0):
        self.seen.append(cdb[0])
        return Completion()

    def wait(self, seconds):
        self.seen.append(("wait", seconds))

    def close(self):
        pass


def test_all_256_opcodes_only_the_allowlist_reaches_the_transport():
    inner = Recorder()
    guarded = GuardedTransport(inner)
    for opcode in range(256):
        cdb = bytes([opcode]) + bytes(11)
        data_out = PAGE_01_PARAMETERS if opcode == 0x55 else b""
        try:
            guarded.execute(cdb, data_out=data_out)
        except CommandRefused:
            pass
    assert set(inner.seen) == EXPECTED_ALLOWED == set(ALLOWED_OPCODES)
    assert len(inner.seen) == len(EXPECTED_ALLOWED)


@pytest.mark.parametrize("opcode,name", [(0x2A, "WRITE(10)"), (0x04, "FORMAT UNIT"), (0xA1, "BLANK"),
                                         (0x35, "SYNCHRONIZE CACHE"), (0xBF, "SEND DISC STRUCTURE"),
                                         (0x5B, "CLOSE TRACK/SESSION"), (0xA6, "LOAD/UNLOAD")])
def test_commands_that_change_the_medium_are_refused_by_name(opcode, name):
    with pytest.raises(CommandRefused, match=f"{opcode:02X}h"):
        check(bytes([opcode]) + bytes(9))


def test_mode_select_of_the_error_recovery_page_with_sp_0_passes():
    check(bytes.fromhex("55 10 00 00 00 00 00 00 14 00"), PAGE_01_PARAMETERS)


def test_mode_select_with_save_pages_is_refused():
    with pytest.raises(CommandRefused, match="SP=1"):
        check(bytes.fromhex("55 11 00 00 00 00 00 00 14 00"), PAGE_01_PARAMETERS)


def test_mode_select_of_any_other_page_is_refused():
    caching_page = bytes(8) + bytes.fromhex("08 0a 04 00 00 00 00 00 00 00 00 00")
    with pytest.raises(CommandRefused, match="08h"):
        check(bytes.fromhex("55 10 00 00 00 00 00 00 14 00"), caching_page)


def test_mode_select_hiding_a_second_page_after_page_01_is_refused():
    two_pages = PAGE_01_PARAMETERS + bytes.fromhex("2a 02 00 00")
    with pytest.raises(CommandRefused, match="2Ah"):
        check(bytes.fromhex("55 10 00 00 00 00 00 00 18 00"), two_pages)


def test_mode_select_skips_block_descriptors_before_judging_the_page():
    with_descriptor = bytes.fromhex("00 00 00 00 00 00 00 08") + bytes(8) + PAGE_01_PARAMETERS[8:]
    check(bytes.fromhex("55 10 00 00 00 00 00 00 1c 00"), with_descriptor)


def test_data_out_on_a_read_command_is_refused():
    with pytest.raises(CommandRefused, match="data-out"):
        check(bytes.fromhex("28 00 00 00 00 00 00 00 01 00"), b"\x00" * 2048)


def test_an_empty_cdb_is_refused():
    with pytest.raises(CommandRefused):
        check(b"")


def test_set_streaming_with_a_performance_descriptor_passes():
    check(bytes.fromhex("b6 00 00 00 00 00 00 00 00 00 1c 00"), bytes(28))


def test_set_streaming_of_any_other_descriptor_type_is_refused():
    with pytest.raises(CommandRefused, match="SET STREAMING"):
        check(bytes.fromhex("b6 00 00 00 00 00 00 00 05 00 1c 00"), bytes(28))


def test_a_wait_passes_through_the_guard_to_the_transport():
    inner = Recorder()
    GuardedTransport(inner).wait(0.2)
    assert inner.seen == [("wait", 0.2)]
