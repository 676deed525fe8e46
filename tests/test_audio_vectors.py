"""Byte vectors for the audio side: ECMA-130's EDC (reveng's CRC-32/CD-ROM-EDC check value), the Q
subchannel CRC (reveng's CRC-16/GSM check value and a real drive's Q frame), READ CD's CDB, the
MusicBrainz disc ID of MusicBrainz's own worked example, FreeDB's; and the parsers fuzzed."""
from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from acquire.audio import checksums, discid, ecma130, offset, output, subq
from acquire.audio.rip import sample_time
from acquire.drive import mmc
from acquire.drive.sim import ecma130 as sim_ecma130
from acquire.errors import MalformedResponse

CHECK = b"123456789"     # the CRC catalogue's check input


def test_edc_is_crc_32_cd_rom_edc_both_in_the_host_and_in_the_simulated_drive():
    # reveng CRC catalogue, CRC-32/CD-ROM-EDC: poly 8001801B, refin/refout, init 0, xorout 0, check 6EC2EDC4
    assert ecma130.edc(CHECK) == sim_ecma130.edc_bitwise(CHECK) == 0x6EC2EDC4


def test_q_crc_is_crc_16_gsm_and_holds_on_a_real_drives_q_frame():
    # reveng CRC catalogue, CRC-16/GSM: poly 1021, init 0, xorout FFFF, check CE3C
    assert subq.q_crc(CHECK) == sim_ecma130.q_crc_bitwise(CHECK) == 0xCE3C
    # an LG drive's Q of one sector, READ CD (forum.redump.info/viewtopic.php?p=10724): track 1 index 1,
    # relative 02:00:35, absolute 02:02:35, CRC 6FFE
    frame = subq.parse_q(bytes.fromhex("41010102003500020235" "6ffe"))
    assert (frame.control, frame.adr, frame.track, frame.index, frame.crc_ok) == (4, 1, 1, 1, True)
    assert (frame.relative, frame.absolute, frame.lba) == ((2 * 60) * 75 + 35, (2 * 60 + 2) * 75 + 35, 9035)
    # the same sector from a PX-716A in that thread: index 00 with the same CRC, so one of them lies
    assert not subq.parse_q(bytes.fromhex("41010002003500020235" "6ffe")).crc_ok


def test_raw_p_w_carries_q_in_bit_6():
    q = bytes.fromhex("41010102003500020235" "6ffe")
    raw = bytes(0x40 if q[i >> 3] & (0x80 >> (i & 7)) else 0x00 for i in range(96))
    assert subq.q_from_raw(bytes(b | 0x80 for b in raw)) == q          # P (bit 7) is ignored


def test_a_mode_1_sector_is_trusted_only_while_its_edc_holds():
    sector = ecma130.mode1_sector(16, bytes(range(256)) * 8)
    assert sector[:12] == ecma130.SYNC and sector[12:16] == bytes([0x00, 0x02, 0x16, 0x01])   # MSF 00:02:16, mode 1
    assert int.from_bytes(sector[2064:2068], "little") == sim_ecma130.edc_bitwise(sector[:2064])
    assert ecma130.check_raw(sector).trusted
    for at in (0, 15, 100, 2063, 2066):
        bad = bytearray(sector)
        bad[at] ^= 0x01
        assert not ecma130.check_raw(bytes(bad)).trusted, at
    assert ecma130.check_raw(sector).user_data == bytes(range(256)) * 8


def test_a_mode_2_form_1_sector_edc_covers_subheader_and_data():
    sub = bytes([0, 0, 0x08, 0]) * 2
    body = sub + bytes(2048)
    sector = ecma130.SYNC + bytes([0, 2, 0, 2]) + body + struct.pack("<I", sim_ecma130.edc_bitwise(body)) + bytes(276)
    check = ecma130.check_raw(sector)
    assert (check.mode, check.form, check.trusted) == (2, 1, True)


def test_read_cd_cdb_selects_type_fields_c2_and_subchannel():
    # BE | type<<2 | LBA | length (3) | byte 9 | byte 10 | control (MMC-6 READ CD)
    assert mmc.read_cd(0x1234, 26, sector_type=1, main_channel=0xFA, subchannel=2) == bytes.fromhex(
        "be04" "00001234" "00001a" "fa" "02" "00")
    assert mmc.read_cd_sector_size(0xFA, 2) == 2352 + 294 + 16
    assert mmc.read_cd_sector_size(0xF8, 1) == 2352 + 96


def test_the_musicbrainz_disc_id_of_musicbrainz_s_worked_example():
    # musicbrainz.org/doc/Disc_ID_Calculation: 6 tracks, lead-out 95462, offsets 150 ... 80489
    starts = [150, 15363, 32314, 46592, 63414, 80489]
    assert discid.musicbrainz_id(1, 6, 95462 - 150, [s - 150 for s in starts]) == "49HHV7Eb8UKF3aQiNmu1GR8vKTY-"
    tracks = [discid.TocTrack(n, s - 150, True) for n, s in enumerate(starts, 1)]
    assert discid.freedb_id(tracks, 95462 - 150) == "3404f606"        # libdiscid's for the same TOC


def test_a_cd_extra_leaves_its_data_session_out_of_the_musicbrainz_id():
    tracks = [discid.TocTrack(1, 0, True, 1), discid.TocTrack(2, 20_000, True, 1), discid.TocTrack(3, 42_000, False, 2)]
    assert discid.musicbrainz_for(tracks, 60_000) == discid.musicbrainz_id(1, 2, 42_000 - 11_400, [0, 20_000])


def test_accuraterip_skips_five_sectors_at_the_disc_s_ends_only():
    pcm = struct.pack("<6000I", *range(1, 6001))
    v1_all, _ = checksums.accuraterip(pcm, False, False)
    assert v1_all == sum(i * i for i in range(1, 6001)) & 0xFFFFFFFF
    v1_first, _ = checksums.accuraterip(pcm, True, False)
    assert v1_first == sum(i * i for i in range(2940, 6001)) & 0xFFFFFFFF
    v1_last, _ = checksums.accuraterip(pcm, False, True)
    assert v1_last == sum(i * i for i in range(1, 6000 - 2940 + 1)) & 0xFFFFFFFF


def test_offsets_come_from_the_option_an_earlier_record_the_table_or_nowhere():
    assert offset.resolve("PLEXTOR", "DVDR   PX-760A", None, None) == offset.ReadOffset(30, "table", offset.TABLE_SOURCE)
    assert offset.resolve("PLEXTOR", "DVDR   PX-760A", -12, (30, "x")).samples == -12
    assert offset.resolve("PLEXTOR", "DVDR   PX-760A", None, (31, "earlier.sqlite")).source == "earlier-record"
    assert offset.resolve("NOBODY", "NOTHING", None, None).source == "unknown"
    assert offset.drive_span(588 * 10, 588, 6) == (10, 2) and offset.drive_span(588 * 10, 588, 0) == (10, 1)


def test_cue_sheet_has_index_00_01_pregap_isrc_catalog_and_flags():
    text = output.cue_text("d.bin", [output.CueTrack(1, False, 175),
                                     output.CueTrack(2, True, 300, index0_frames=75, pregap=150, isrc="USRC17607839",
                                                     preemphasis=True, copy_permitted=True)], catalog="0724384260927")
    assert text.split("\r\n") == [
        "CATALOG 0724384260927", 'FILE "d.bin" BINARY', "  TRACK 01 MODE1/2352", "    INDEX 01 00:00:00",
        "  TRACK 02 AUDIO", "    FLAGS DCP PRE", "    ISRC USRC17607839", "    PREGAP 00:02:00",
        "    INDEX 00 00:02:25", "    INDEX 01 00:03:25", ""]


def test_wav_header_is_canonical_cd_da():
    assert output.wav_header(2352) == (b"RIFF" + struct.pack("<I", 2388) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 2, 44100, 176400, 4, 16) + b"data" + struct.pack("<I", 2352))


def test_sample_time_is_mm_ss_ff():
    assert sample_time(0) == "00:00.00" and sample_time(588 * 75 * 61 + 588 * 3 + 5) == "01:01.03"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_q_parser_is_bounded(data):
    try:
        frame = subq.parse_q(data)
    except MalformedResponse:
        assert len(data) < 12
    else:
        assert 0 <= frame.index <= 165 and frame.crc_ok in (True, False)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=2352, max_size=2352))
def test_raw_sector_check_never_raises_on_2352_bytes(data):
    assert ecma130.check_raw(data).trusted in (True, False)


def test_raw_sector_check_refuses_other_sizes():
    with pytest.raises(ValueError):
        ecma130.check_raw(bytes(2048))


def test_a_sub_file_sector_is_p_q_r_to_w_twelve_bytes_each():
    q = bytes.fromhex("41010102003500020235" "6ffe")
    raw = bytes((0x80 if i < 8 else 0) | (0x40 if q[i >> 3] & (0x80 >> (i & 7)) else 0) | 0x01 for i in range(96))
    sub = subq.clonecd_sub(raw, 1)
    assert sub[:12] == b"\xff" + bytes(11) and sub[12:24] == q and sub[24:84] == bytes(60) and sub[84:] == b"\xff" * 12
    assert subq.clonecd_sub(q + bytes(4), 2) == bytes(12) + q + bytes(72)          # index 1: no pause
    assert subq.clonecd_sub(None, 2) == bytes(96)


def test_a_rebuilt_mode_2_form_1_sector_is_trusted_and_its_cue_track_is_mode2():
    sector = ecma130.mode2_form1_sector(20, bytes(range(256)) * 8)
    check = ecma130.check_raw(sector)
    assert (check.mode, check.form, check.trusted, check.user_data) == (2, 1, True, bytes(range(256)) * 8)
    assert "  TRACK 01 MODE2/2352" in output.cue_text("d.bin", [output.CueTrack(1, False, 10, data_mode=2)])


def test_l_ec_parity_of_two_derivations_agrees_and_annex_a_s_check_holds():
    import random
    rng = random.Random(19)
    for lba, maker in ((16, ecma130.mode1_sector), (20, ecma130.mode2_form1_sector)):
        sector = maker(lba, bytes(rng.randrange(256) for _ in range(2048)))
        assert ecma130.lec_ok(sector)
        # the simulated drive solves the two parity equations per vector instead of a shift register
        body = bytearray(sector[12:])
        if sector[15] == 2:
            body[0:4] = bytes(4)
        body[2064:] = bytes(276)
        sim_ecma130.lec_parity(body)
        assert bytes(body[4:]) == sector[16:]
        for at in (16, 1000, 2070, 2100, 2300):
            bad = bytearray(sector)
            bad[at] ^= 0x40
            assert not ecma130.lec_ok(bytes(bad)), at


def q_bytes(track: int, index: int, lba: int, relative: int, crc_ok: bool = True) -> bytes:
    """A formatted Q (16 bytes) of a mode 1 position, by the layout of IEC 60908's Q: CONTROL/ADR,
    TNO, INDEX, relative MSF, zero, absolute MSF (all BCD), CRC, 4 reserved."""
    def msf(frames: int) -> list[int]:
        return [ecma130.bcd(frames // 4500), ecma130.bcd(frames // 75 % 60), ecma130.bcd(frames % 75)]
    body = bytes([0x01, ecma130.bcd(track), index, *msf(relative), 0, *msf(lba + 150)])
    crc = subq.q_crc(body) ^ (0 if crc_ok else 1)
    return body + crc.to_bytes(2, "big") + bytes(4)


def test_a_pre_gap_is_the_run_of_sound_index_00_frames_before_the_start_bad_crcs_skipped():
    from acquire.audio.pregap import pregap_from_q
    start = 200
    subs = {lba: q_bytes(1, 1, lba, lba - 100) for lba in range(100, 180)}
    subs |= {lba: q_bytes(2, 0, lba, start - 1 - lba) for lba in range(180, 200)}
    assert pregap_from_q(subs, 2, 2, start, 100) == 20
    subs[190] = q_bytes(2, 0, 190, 9, crc_ok=False)        # a frame whose CRC fails tells nothing: skipped
    subs.pop(191)                                           # nor does a missing one
    assert pregap_from_q(subs, 2, 2, start, 100) == 20
    subs[180] = q_bytes(2, 0, 180, 19, crc_ok=False)
    subs[179] = q_bytes(2, 1, 179, 0)                      # a sound frame of anything else ends the run:
    assert pregap_from_q(subs, 2, 2, start, 100) == 19     # INDEX 00 no earlier than a sound frame shows it
    assert pregap_from_q(subs, 2, 3, start, 100) == 0      # no frame says track 3 index 0
    assert pregap_from_q({}, 0, 2, start, 100) == 0        # no subchannel: nothing known


def test_ctdb_crcs_are_zlib_crc32_over_the_ranges_cuetools_defines():
    # a disc of three audio tracks, 20,000 + 7,000 + 13,000 = 40,000 samples (N). By CUETools'
    # definition (AccurateRip.cs CTDBCRC(i, 0, stride/2, laststride/2), CDRepair.cs): stride =
    # 11,760 words, laststride = 11,760 + (2N mod 11,760) = 11,760 + 9,440 = 21,200 words, so the
    # CRCs leave out samples 0-5,879 and the last 10,600 (samples 29,400-39,999), worked out by hand:
    stream = bytes((i * 7 + i // 251) % 256 for i in range(40_000 * 4))
    cut = [0, 20_000, 27_000, 40_000]
    sums = checksums.CtdbSums(40_000)
    got = [sums.add(n, stream[4 * cut[n - 1]:4 * cut[n]], n == 1, n == 3) for n in (1, 2, 3)]
    assert got == [zlib.crc32(stream[23_520:80_000]), zlib.crc32(stream[80_000:108_000]),
                   zlib.crc32(stream[108_000:117_600])]
    assert sums.as_dict() == {"crc": f"{zlib.crc32(stream[23_520:117_600]):08x}",
                              "track_crcs": {str(n): f"{c:08x}" for n, c in zip((1, 2, 3), got)}}
    # a track inside the guard band has nothing to cover: the CRC of no bytes
    assert checksums.ctdb_span(5_000, True, False, 40_000) == (5_000, 5_000)
    assert checksums.CtdbSums(40_000).add(1, bytes(4 * 5_000), True, False) == 0
