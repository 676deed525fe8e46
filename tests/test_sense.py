"""Sense data: byte vectors written by hand from SPC-4 4.5 / docs/reference/mmc.md, never built by us."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquire.drive.sense import (
    SENSE_ACTIONS,
    Action,
    Sense,
    build_fixed_sense,
    classify,
    parse_sense,
    parse_sense_spec,
    sense_name,
)
from acquire.errors import MalformedSense

# -- fixed format (70h current, 71h deferred) ---------------------------------------------------

MEDIUM_ERROR_AT_LBA_4660 = bytes.fromhex("f0 00 03 00 00 12 34 0a 00 00 00 00 11 05 00 00 00 00")
NO_DISC_TRAY_CLOSED = bytes.fromhex("70 00 02 00 00 00 00 0a 00 00 00 00 3a 01 00 00 00 00")
# VALID clear: the INFORMATION bytes hold something, but it must not be trusted
STALE_INFORMATION = bytes.fromhex("70 00 03 00 00 99 99 0a 00 00 00 00 11 00 00 00 00 00")
ILI_WITH_UNRECOVERED_READ = bytes.fromhex("f0 00 23 00 00 00 10 0a 00 00 00 00 11 00 00 00 00 00")
DEFERRED_HARDWARE_ERROR = bytes.fromhex("71 00 04 00 00 00 00 0a 00 00 00 00 44 00 00 00 00 00")
QEMU_IO_ERROR = bytes.fromhex("70 00 0b 00 00 00 00 0a 00 00 00 00 00 06 00 00 00 00")
# only up to ASCQ: 14 bytes is the least that carries ASC and ASCQ
FIXED_14_BYTES = bytes.fromhex("70 00 05 00 00 00 00 06 00 00 00 00 24 00")


def test_fixed_sense_with_valid_bit_gives_the_failing_lba():
    sense = parse_sense(MEDIUM_ERROR_AT_LBA_4660)
    assert (str(sense), sense.information, sense.ili, sense.deferred) == ("03/11/05", 4660, False, False)


def test_fixed_sense_without_valid_bit_has_no_information():
    assert parse_sense(NO_DISC_TRAY_CLOSED) == Sense(0x02, 0x3A, 0x01)


def test_fixed_sense_ignores_information_bytes_when_valid_is_clear():
    assert parse_sense(STALE_INFORMATION).information is None


def test_fixed_sense_ili_is_byte_2_bit_5_and_does_not_leak_into_the_key():
    sense = parse_sense(ILI_WITH_UNRECOVERED_READ)
    assert (sense.key, sense.ili, sense.information) == (0x03, True, 0x10)


def test_fixed_sense_71h_is_deferred():
    sense = parse_sense(DEFERRED_HARDWARE_ERROR)
    assert (str(sense), sense.deferred) == ("04/44/00", True)


def test_fixed_sense_of_14_bytes_is_enough_for_key_asc_and_ascq():
    assert str(parse_sense(FIXED_14_BYTES)) == "05/24/00"


# -- descriptor format (72h current, 73h deferred) ----------------------------------------------

# additional length 0Ch; information descriptor: type 00h, length 0Ah, VALID, 64-bit INFORMATION
DESCRIPTOR_WITH_INFORMATION = bytes.fromhex("72 03 11 05 00 00 00 0c 00 0a 80 00 00 00 00 00 00 00 12 34")
DESCRIPTOR_INFORMATION_NOT_VALID = bytes.fromhex("72 03 11 00 00 00 00 0c 00 0a 00 00 00 00 00 00 00 00 12 34")
DESCRIPTOR_64_BIT_INFORMATION = bytes.fromhex("72 03 11 00 00 00 00 0c 00 0a 80 00 00 00 00 01 00 00 00 00")
DESCRIPTOR_WITHOUT_DESCRIPTORS = bytes.fromhex("72 05 24 00 00 00 00 00")
# 73h deferred; block commands descriptor (type 05h, length 02h): byte 3 bit 5 ILI
DEFERRED_DESCRIPTOR_WITH_ILI = bytes.fromhex("73 03 11 00 00 00 00 04 05 02 00 20")
# a sense key specific descriptor (02h) before the information descriptor
DESCRIPTOR_SECOND_IS_INFORMATION = bytes.fromhex(
    "72 03 11 06 00 00 00 14 02 06 00 00 80 00 05 00 00 0a 80 00 00 00 00 00 00 00 00 64")
# the kernel kept only 12 of the 20 bytes: the information descriptor is cut off
DESCRIPTOR_CUT_BY_SENSE_BUFFER = bytes.fromhex("72 03 11 05 00 00 00 0c 00 0a 80 00")


def test_descriptor_sense_information_descriptor_gives_the_failing_lba():
    sense = parse_sense(DESCRIPTOR_WITH_INFORMATION)
    assert (str(sense), sense.information, sense.deferred) == ("03/11/05", 0x1234, False)


def test_descriptor_sense_information_without_valid_bit_is_none():
    assert parse_sense(DESCRIPTOR_INFORMATION_NOT_VALID).information is None


def test_descriptor_sense_information_is_64_bits():
    assert parse_sense(DESCRIPTOR_64_BIT_INFORMATION).information == 1 << 32


def test_descriptor_sense_with_no_descriptors_has_key_asc_ascq_only():
    assert parse_sense(DESCRIPTOR_WITHOUT_DESCRIPTORS) == Sense(0x05, 0x24, 0x00)


def test_descriptor_sense_73h_is_deferred_and_block_commands_descriptor_gives_ili():
    sense = parse_sense(DEFERRED_DESCRIPTOR_WITH_ILI)
    assert (str(sense), sense.deferred, sense.ili) == ("03/11/00", True, True)


def test_descriptor_sense_finds_the_information_descriptor_after_another():
    assert parse_sense(DESCRIPTOR_SECOND_IS_INFORMATION).information == 100


def test_descriptor_sense_cut_short_keeps_the_codes_and_drops_the_information():
    sense = parse_sense(DESCRIPTOR_CUT_BY_SENSE_BUFFER)
    assert (str(sense), sense.information) == ("03/11/05", None)


@pytest.mark.parametrize("raw", [
    "",                                                          # nothing
    "70 00 03",                                                  # fixed, cut before ASC
    "70 00 03 00 00 00 00 0a 00 00 00 00 11",                   # fixed, 13 bytes: no ASCQ
    "72 03 11",                                                  # descriptor, cut in the header
    "7f 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00",    # vendor-specific response code
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",    # zeros: no sense at all
])
def test_undecodable_sense_raises_malformed_sense(raw):
    with pytest.raises(MalformedSense):
        parse_sense(bytes.fromhex(raw))


@given(st.binary(max_size=300))
def test_parse_sense_on_any_bytes_returns_a_sense_or_raises_malformed_sense(data):
    try:
        sense = parse_sense(data)
    except MalformedSense:
        return
    assert 0 <= sense.key <= 0x0F and 0 <= sense.asc <= 0xFF and 0 <= sense.ascq <= 0xFF
    assert isinstance(sense.action, Action) and sense.name


# -- classification: every row of docs/reference/mmc.md "The sense table" --------------------------------

@pytest.mark.parametrize("spec, action", [
    ("02/04/01", Action.WAIT_AND_RETRY),        # becoming ready
    ("02/3A/00", Action.STOP_NO_DISC),          # medium not present
    ("02/3A/01", Action.STOP_NO_DISC),          # ... tray closed
    ("02/3A/02", Action.STOP_NO_DISC),          # ... tray open
    ("03/02/00", Action.BAD_SECTOR),            # no seek complete
    ("03/11/00", Action.BAD_SECTOR),            # unrecovered read error
    ("03/11/05", Action.BAD_SECTOR),            # L-EC uncorrectable
    ("03/11/06", Action.BAD_SECTOR),            # CIRC unrecovered
    ("03/15/00", Action.BAD_SECTOR),            # random positioning error
    ("03/15/01", Action.BAD_SECTOR),            # mechanical positioning error
    ("03/57/00", Action.BAD_SECTOR),            # unable to recover TOC: every read fails
    ("01/17/00", Action.GOOD_BUT_MARGINAL),     # recovered data, no correction
    ("01/17/01", Action.GOOD_BUT_MARGINAL),     # recovered data with retries
    ("01/18/00", Action.GOOD_BUT_MARGINAL),     # recovered data with ECC
    ("01/18/01", Action.GOOD_BUT_MARGINAL),
    ("04/00/00", Action.STOP_HARDWARE),         # hardware error
    ("04/09/01", Action.STOP_HARDWARE),         # tracking servo failure
    ("04/44/00", Action.STOP_HARDWARE),         # internal target failure
    ("05/20/00", Action.FALL_BACK),             # invalid command operation code
    ("05/21/00", Action.STOP_BUG),              # LBA out of range
    ("05/24/00", Action.FALL_BACK),             # invalid field in CDB
    ("05/26/00", Action.FALL_BACK),             # invalid field in parameter list
    ("05/64/00", Action.FALL_BACK),             # illegal mode for this track
    ("05/6F/00", Action.PROTECTED),             # copy protection key exchange failure
    ("05/6F/01", Action.PROTECTED),
    ("05/6F/02", Action.PROTECTED),
    ("05/6F/03", Action.PROTECTED),             # read of scrambled sector without authentication
    ("05/6F/04", Action.PROTECTED),             # region mismatch
    ("05/6F/05", Action.PROTECTED),
    ("06/28/00", Action.STOP_MEDIUM_CHANGED),   # not ready to ready change
    ("06/29/00", Action.STOP_MEDIUM_CHANGED),   # power on, reset
    ("06/29/01", Action.STOP_MEDIUM_CHANGED),   # power on occurred
    ("06/29/02", Action.STOP_MEDIUM_CHANGED),   # SCSI bus reset
    ("06/2A/01", Action.STOP_MEDIUM_CHANGED),   # any other UNIT ATTENTION: check identity too
    ("0B/00/06", Action.RETRY_ABORTED),         # QEMU: I/O process terminated
    ("0B/00/00", Action.RETRY_ABORTED),         # aborted command
    ("0B/47/03", Action.RETRY_ABORTED),
])
def test_every_row_of_the_sense_table_classifies_as_reference_mmc_says(spec, action):
    key, asc, ascq = parse_sense_spec(spec)
    assert classify(Sense(key, asc, ascq)) is action
    assert Sense(key, asc, ascq).action is action


@pytest.mark.parametrize("spec", ["00/00/00", "02/30/00", "07/27/00", "08/00/05", "0E/1D/00", "0F/00/00"])
def test_sense_without_a_table_row_is_unknown(spec):
    assert classify(Sense(*parse_sense_spec(spec))) is Action.UNKNOWN


def test_the_most_specific_row_wins_over_the_sense_key_default():
    assert SENSE_ACTIONS[(0x05, None, None)] is Action.FALL_BACK
    assert classify(Sense(0x05, 0x21, 0x00)) is Action.STOP_BUG
    assert classify(Sense(0x05, 0x21, 0x01)) is Action.FALL_BACK     # invalid element address


def test_every_sense_actions_row_is_a_key_with_optional_asc_and_ascq():
    for key, asc, ascq in SENSE_ACTIONS:
        assert 0 <= key <= 0x0F
        assert asc is None or 0 <= asc <= 0xFF
        assert ascq is None or (asc is not None and 0 <= ascq <= 0xFF)


# -- names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, asc, ascq, name", [
    # from pyscsi's table
    (0x03, 0x11, 0x00, "MEDIUM ERROR: UNRECOVERED READ ERROR"),
    (0x03, 0x11, 0x05, "MEDIUM ERROR: L-EC UNCORRECTABLE ERROR"),
    (0x02, 0x3A, 0x02, "NOT READY: MEDIUM NOT PRESENT - TRAY OPEN"),
    (0x05, 0x21, 0x00, "ILLEGAL REQUEST: LOGICAL BLOCK ADDRESS OUT OF RANGE"),
    (0x06, 0x28, 0x00, "UNIT ATTENTION: NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"),
    (0x0B, 0x00, 0x06, "ABORTED COMMAND: I/O PROCESS TERMINATED"),
    # our overrides: missing from pyscsi, or spelled in mixed case there
    (0x00, 0x00, 0x00, "NO SENSE: NO ADDITIONAL SENSE INFORMATION"),
    (0x05, 0x24, 0x00, "ILLEGAL REQUEST: INVALID FIELD IN CDB"),
    (0x05, 0x6F, 0x08, "ILLEGAL REQUEST: INSUFFICIENT PERMISSION"),
    # unknown codes: a readable fallback
    (0x03, 0x11, 0x7F, "MEDIUM ERROR: ASC 11h ASCQ 7Fh"),
    (0x04, 0x80, 0x01, "HARDWARE ERROR: ASC 80h ASCQ 01h (vendor specific)"),
    (0x0C, 0x00, 0x00, "SENSE KEY Ch: NO ADDITIONAL SENSE INFORMATION"),
])
def test_sense_names(key, asc, ascq, name):
    assert sense_name(key, asc, ascq) == name


def test_sense_name_property_and_key_name():
    sense = parse_sense(MEDIUM_ERROR_AT_LBA_4660)
    assert (sense.name, sense.key_name) == ("MEDIUM ERROR: L-EC UNCORRECTABLE ERROR", "MEDIUM ERROR")


@given(st.integers(0, 0x0F), st.integers(0, 0xFF), st.integers(0, 0xFF))
def test_sense_name_never_raises_for_any_code(key, asc, ascq):
    assert sense_name(key, asc, ascq).startswith(Sense(key, asc, ascq).key_name + ": ")


# -- building and spelling sense ------------------------------------------------------------------

def test_build_fixed_sense_with_information_sets_valid_and_bytes_3_to_6():
    assert build_fixed_sense(0x03, 0x11, 0x05, information=4660) == MEDIUM_ERROR_AT_LBA_4660


def test_build_fixed_sense_without_information_leaves_valid_clear():
    assert build_fixed_sense(0x02, 0x3A, 0x01) == NO_DISC_TRAY_CLOSED


def test_build_fixed_sense_with_ili_sets_byte_2_bit_5():
    assert build_fixed_sense(0x03, 0x11, 0x00, information=0x10, ili=True) == ILI_WITH_UNRECOVERED_READ


@pytest.mark.parametrize("args", [(0x10, 0, 0), (3, 0x100, 0), (3, 0x11, -1), (3, 0x11, 0, 1 << 32)])
def test_build_fixed_sense_refuses_values_that_do_not_fit(args):
    with pytest.raises(ValueError):
        build_fixed_sense(*args)


@pytest.mark.parametrize("text, codes", [
    ("03/11/05", (0x03, 0x11, 0x05)),
    ("3/11/5", (0x03, 0x11, 0x05)),
    ("0B/00/06", (0x0B, 0x00, 0x06)),
    ("05/6f/03", (0x05, 0x6F, 0x03)),
    (" 02/3A/00 ", (0x02, 0x3A, 0x00)),
])
def test_parse_sense_spec_reads_hex_key_asc_ascq(text, codes):
    assert parse_sense_spec(text) == codes


@pytest.mark.parametrize("text", ["", "03/11", "03-11-05", "03/11/05/00", "zz/11/05", "10/00/00", "003/11/05",
                                  "03//05", "+3/11/05"])
def test_parse_sense_spec_refuses_other_text_with_a_clear_message(text):
    with pytest.raises(ValueError, match="KEY/ASC/ASCQ|above 0Fh"):
        parse_sense_spec(text)
