"""The Nimbie NB21 backend's bytes, against the public protocol notes (acquire/batch/nimbie.py: [MN]
Tormen/my-nimbie README "Nimbie NB21 USB Protocol Reference", [NP] mattsoulanille/nimbie-py).
UNTESTED ON HARDWARE: these check the encoding and decoding only; no Nimbie was at hand."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from acquire.batch import nimbie
from acquire.batch.changer import ChangerError, LoadFailed, StackEmpty


@pytest.mark.parametrize("command, packet", [
    (nimbie.GET_STATE, "00 00 43 00 00 00 00 00"),       # [MN] Command Table: 0x43 0x00 GET_STATE
    (nimbie.LIFT_DISC, "00 00 47 01 00 00 00 00"),       # 0x47 0x01 LIFT_DISC  ([NP] try_command(0x47, 0x01))
    (nimbie.PLACE_DISC, "00 00 52 01 00 00 00 00"),      # 0x52 0x01 PLACE_DISC ([NP] try_command(0x52, 0x01))
    (nimbie.ACCEPT_DISC, "00 00 52 02 00 00 00 00"),     # 0x52 0x02 ACCEPT
    (nimbie.REJECT_DISC, "00 00 52 03 00 00 00 00"),     # 0x52 0x03 REJECT
])
def test_each_command_is_an_8_byte_packet_with_the_command_at_offset_2_and_its_parameter_at_3(command, packet):
    assert nimbie.command_packet(command) == bytes.fromhex(packet)


def test_the_bootloader_command_is_never_sent():
    with pytest.raises(ValueError, match="bootloader"):       # [MN] Dangerous Commands: 0x56
        nimbie.command_packet((0x56, 0x00))


def test_the_usb_identity_and_endpoints_are_the_documented_ones():
    assert (nimbie.VENDOR_ID, nimbie.PRODUCT_ID, nimbie.OUT_ENDPOINT, nimbie.IN_ENDPOINT) == (0x1723, 0x0945, 0x02, 0x81)
    assert nimbie.READ_TIMEOUT_MS == 20_000


def test_an_in_packet_is_a_null_terminated_string_and_a_zero_packet_is_nothing():
    assert nimbie.packet_text(b"AT+S07\x00" + bytes(57)) == "AT+S07"
    assert nimbie.packet_text(bytes(64)) is None


@pytest.mark.parametrize("text, state", [          # [MN] "State string examples"
    ("{000000100}", (False, False, False, False)),   # idle, no discs
    ("{010000100}", (True, False, False, False)),    # discs in the hopper, tray closed
    ("{010001100}", (True, False, False, True)),     # tray open, discs available
    ("{000101100}", (False, True, False, True)),     # a disc on the open tray
    ("{000010100}", (False, False, True, False)),    # the gripper holds a disc
])
def test_the_state_string_gives_hopper_tray_gripper_and_tray_position(text, state):
    s = nimbie.parse_state(text)
    assert (s.disc_available, s.disc_in_tray, s.disc_lifted, s.tray_out) == state


def test_a_mechanical_command_succeeds_on_its_final_code_and_fails_by_kind():
    # [MN] "Response Sequence": AT+O (accepted), then the mechanism's result
    assert nimbie.status_error(nimbie.final_status(["AT+O", "AT+S07"]), "place") is None
    assert isinstance(nimbie.status_error(nimbie.final_status(["AT+O", "AT+S14"]), "place"), StackEmpty)
    assert isinstance(nimbie.status_error("AT+S12", "place"), LoadFailed)
    error = nimbie.status_error("AT+S00", "lift the disc")
    assert isinstance(error, ChangerError) and str(error) == "the Nimbie could not lift the disc: AT+S00 (no disc in the tray)"
    assert "no answer" in str(nimbie.status_error(None, "place"))


@given(st.binary(max_size=128))
def test_any_in_packet_decodes_to_text_or_nothing(packet):
    text = nimbie.packet_text(packet)
    assert text is None or ("\x00" not in text and len(text) <= len(packet))


@given(st.text(max_size=40))
def test_any_state_string_is_a_state_or_one_changer_error(text):
    try:
        state = nimbie.parse_state(text)
    except ChangerError as exc:
        assert "is not {xxxxxxxxx}" in str(exc)
    else:
        assert isinstance(state.disc_available, bool) and text.startswith("{")
