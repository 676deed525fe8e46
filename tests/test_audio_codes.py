"""ISRC and MCN from the Q subchannel (ECMA-130 22.3.3, modes 3 and 2): byte vectors worked by hand
from the spec's bit layout, the simulated drive's frames decoded back (hypothesis), the choice
between Q and READ SUB-CHANNEL, and a simulated disc ripped with its codes from both sources."""
from __future__ import annotations

import json
import sqlite3

from hypothesis import given, strategies as st

from acquire.audio import codes, subq
from acquire.drive.sim import audio as sim_audio

# Mode 3, ISRC "USRC17607839" (ISO 3901's example, US-RC1-76-07839), AFRAME 42 (BCD 42h), by hand:
#   CONTROL 0 ADR 3                             -> 03
#   U=25h S=23h R=22h C=13h '1'=01h in 6 bits: 100101 100011 100010 010011 000001, then 00
#                                               -> 1001 0110 0011 1000 1001 0011 0000 0100 = 96 38 93 04
#   7 6 0 7 8 3 9 in BCD, then 0000             -> 76 07 83 90
#   AFRAME                                      -> 42
ISRC_Q = bytes.fromhex("03 96 38 93 04 76 07 83 90 42")
# Mode 2, MCN "0724384260927": 13 BCD digits, 12 zero bits, AFRAME 07
MCN_Q = bytes.fromhex("02 07 24 38 42 60 92 70 00 07")


def with_crc(body: bytes) -> bytes:
    return body + subq.q_crc(body).to_bytes(2, "big")


def raw_pw(q12: bytes) -> bytes:
    return bytes(0x40 if q12[i >> 3] & (0x80 >> (i & 7)) else 0 for i in range(96))


def test_a_mode_3_frame_is_the_isrc_and_a_mode_2_frame_the_catalogue_number():
    assert (subq.isrc_of(ISRC_Q), subq.mcn_of(ISRC_Q)) == ("USRC17607839", None)
    assert (subq.mcn_of(MCN_Q), subq.isrc_of(MCN_Q)) == ("0724384260927", None)


def test_a_frame_with_a_code_outside_the_spec_s_table_is_no_code():
    assert subq.isrc_of(bytes([0x03, 0xFC]) + ISRC_Q[2:]) is None       # 6-bit 3Fh: no character
    assert subq.mcn_of(bytes([0x02, 0x0A]) + MCN_Q[2:]) is None          # nibble Ah: not BCD
    assert subq.isrc_of(ISRC_Q[:9]) is None


def test_the_simulated_drive_writes_the_spec_s_bytes():
    assert sim_audio.isrc_q("USRC17607839", 42) == ISRC_Q
    assert sim_audio.mcn_q("0724384260927", 7) == MCN_Q


_ISRC = st.tuples(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=5, max_size=5),
                  st.text("0123456789", min_size=7, max_size=7)).map("".join)


@given(_ISRC, st.text("0123456789", min_size=13, max_size=13), st.integers(0, 74))
def test_codes_the_simulated_drive_encodes_decode_back(isrc, mcn, aframe):
    assert subq.isrc_of(sim_audio.isrc_q(isrc, aframe)) == isrc
    assert subq.mcn_of(sim_audio.mcn_q(mcn, aframe)) == mcn


def test_q_codes_count_sound_frames_only_in_formatted_q_and_raw_p_w():
    position = with_crc(bytes.fromhex("01 01 01 00 00 10 00 00 02 10"))
    bad = with_crc(ISRC_Q)[:11] + b"\x00"
    frames = [with_crc(ISRC_Q), with_crc(ISRC_Q), with_crc(MCN_Q), position, bad]
    expected = subq.QCodes("0724384260927", 1, "USRC17607839", 2, 0)
    assert subq.q_codes([f + bytes(4) for f in frames], 2) == expected
    assert subq.q_codes([raw_pw(f) for f in frames], 1) == expected
    other = with_crc(bytes.fromhex("03 96 38 93 04 76 07 83 10 42"))      # the last digit 9 -> 1
    assert subq.q_codes([with_crc(ISRC_Q) + bytes(4)] * 2 + [other + bytes(4)], 2).other_frames == 1


def test_q_frames_win_and_a_difference_is_a_disagreement():
    assert codes.preferred("USRC17607839", "GBAYE0601498") == "USRC17607839"
    assert codes.preferred(None, "GBAYE0601498") == "GBAYE0601498"
    assert codes.disagreements("0724384260927", "0724384260927", {"1": "USRC17607839", "2": "USRC17607832"},
                               {"2": "GBAYE0601498", "3": "GBAYE0601499"}) == [
        {"code": "isrc", "track": 2, "q": "USRC17607832", "read_sub_channel": "GBAYE0601498"}]
    per_track = {1: subq.QCodes("0724384260927", 3, None, 0, 0), 2: subq.QCodes("0000000000000", 2, None, 0, 0)}
    assert codes.disc_mcn(per_track) == "0724384260927"


def test_a_simulated_disc_s_q_frames_give_its_isrcs_and_mcn_as_read_sub_channel_does(tmp_path):
    from audio_discs import audio_cd
    from conftest import run_acquire
    disc = audio_cd(tmp_path)
    run_acquire("image", f"sim:{disc['profile']}", tmp_path / "out.iso", "--json", check_code=0)
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        got = {k: json.loads(v) for k, v in db.execute("SELECT name, value FROM audio_disc")}
    isrcs = {str(n): f"USRC1760783{n}" for n in (1, 2, 3)}
    assert (got["isrc_q"], got["isrc_read_sub_channel"], got["isrc"]) == (isrcs, isrcs, isrcs)
    assert (got["catalog_q"], got["catalog_read_sub_channel"]) == ("0724384260927", "0724384260927")
    assert (got["codes_disagree"], got["codes_q_other_frames"]) == ([], 0)
    cue = (tmp_path / "out.cue").read_text()
    assert "CATALOG 0724384260927" in cue and cue.count("ISRC USRC1760783") == 3


def _ripped(tmp_path, drive: str) -> tuple[dict, str, dict]:
    from audio_discs import audio_cd
    from conftest import run_acquire
    disc = audio_cd(tmp_path, drive="read_offset = 6\noverread = true\n" + drive)
    run_acquire("image", f"sim:{disc['profile']}", tmp_path / "out.iso", "--json", check_code=0)
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        got = {k: json.loads(v) for k, v in db.execute("SELECT name, value FROM audio_disc")}
        event = json.loads(db.execute("SELECT details_json FROM events WHERE kind = 'audio'").fetchone()[0])
    return got, (tmp_path / "out.cue").read_text(), event


ISRCS = {str(n): f"USRC1760783{n}" for n in (1, 2, 3)}
NEIGHBOURS = {"1": "USRC17607832", "2": "USRC17607833", "3": "USRC17607832"}   # N+1's; the last track N-1's


def test_a_drive_whose_read_sub_channel_gives_a_neighbour_s_isrc_and_another_mcn_is_named_and_q_wins(tmp_path):
    got, cue, event = _ripped(tmp_path, 'read_sub_channel_isrc = "neighbour"\nread_sub_channel_mcn = "0000000000000"')
    assert (got["isrc_read_sub_channel"], got["catalog_read_sub_channel"]) == (NEIGHBOURS, "0000000000000")
    assert got["codes_disagree"] == [
        {"code": "mcn", "track": None, "q": "0724384260927", "read_sub_channel": "0000000000000"},
        *({"code": "isrc", "track": n, "q": ISRCS[str(n)], "read_sub_channel": NEIGHBOURS[str(n)]} for n in (1, 2, 3))]
    assert event["codes_disagree"] == 4
    assert event["codes_disagreeing"][:2] == ["MCN: Q frames 0724384260927, READ SUB-CHANNEL 0000000000000",
                                              "ISRC of track 1: Q frames USRC17607831, READ SUB-CHANNEL USRC17607832"]
    # the CUE keeps what the tracks' own CRC-checked Q frames say
    assert (got["isrc"], got["catalog"]) == (ISRCS, "0724384260927")
    assert "CATALOG 0724384260927" in cue and [line.strip() for line in cue.splitlines() if "ISRC" in line] == [
        f"ISRC USRC1760783{n}" for n in (1, 2, 3)]


def test_a_drive_whose_read_sub_channel_gives_no_codes_disagrees_with_nothing_and_q_gives_them(tmp_path):
    got, cue, event = _ripped(tmp_path, 'read_sub_channel_isrc = "none"\nread_sub_channel_mcn = "none"')
    assert (got["isrc_read_sub_channel"], got["catalog_read_sub_channel"]) == ({}, None)
    assert (got["codes_disagree"], event["codes_disagree"], event["codes_disagreeing"]) == ([], 0, [])
    assert (got["isrc"], got["catalog"]) == (ISRCS, "0724384260927") and cue.count("ISRC USRC1760783") == 3


def test_a_drive_without_subchannel_falls_back_to_read_sub_channel_s_codes(tmp_path):
    got, cue, _event = _ripped(tmp_path, 'subchannel = false\nread_sub_channel_isrc = "neighbour"\n'
                                         'read_sub_channel_mcn = "0000000000000"')
    assert (got["isrc_q"], got["catalog_q"], got["codes_disagree"]) == ({}, None, [])
    assert (got["isrc"], got["catalog"]) == (NEIGHBOURS, "0000000000000")
    assert "CATALOG 0000000000000" in cue and "ISRC USRC17607833" in cue
