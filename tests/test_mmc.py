"""MMC CDBs and responses: vectors written in hex by hand from docs/reference/mmc.md, never built by us;
pyscsi as an independent oracle where it builds the same CDB; a round trip through the simulated drive."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquire.drive import mmc
from acquire.errors import MalformedResponse

h = bytes.fromhex


# -- CDB builders ---------------------------------------------------------------------------------

def test_test_unit_ready_is_six_zero_bytes():
    assert mmc.test_unit_ready() == h("00 00 00 00 00 00")


def test_request_sense_puts_allocation_length_252_in_byte_4():
    assert mmc.request_sense() == h("03 00 00 00 fc 00")


def test_inquiry_standard_data_asks_for_96_bytes_in_bytes_3_to_4():
    assert mmc.inquiry() == h("12 00 00 00 60 00")


def test_inquiry_vpd_80h_sets_evpd_and_page_code():
    assert mmc.inquiry(evpd=True, page_code=0x80, allocation_length=252) == h("12 01 80 00 fc 00")


def test_inquiry_page_code_without_evpd_is_refused():
    with pytest.raises(ValueError):
        mmc.inquiry(page_code=0x80)


def test_start_stop_unit_start_sets_byte_4_bit_0():
    assert mmc.start_stop_unit() == h("1b 00 00 00 01 00")


def test_start_stop_unit_eject_is_loej_without_start():
    assert mmc.start_stop_unit(start=False, load_eject=True) == h("1b 00 00 00 02 00")


def test_prevent_allow_medium_removal_prevent_is_01b_and_allow_00b():
    assert mmc.prevent_allow_medium_removal(True) == h("1e 00 00 00 01 00")
    assert mmc.prevent_allow_medium_removal(False) == h("1e 00 00 00 00 00")


def test_read_capacity_10_is_25h_and_nine_zero_bytes():
    assert mmc.read_capacity_10() == h("25 00 00 00 00 00 00 00 00 00")


def test_read10_with_fua_puts_lba_in_bytes_2_to_5_and_count_in_7_to_8():
    assert mmc.read_10(lba=0x0001_0000, count=32, fua=True) == h("28 08 00 01 00 00 00 00 20 00")


def test_read10_without_fua_leaves_byte_1_zero():
    assert mmc.read_10(0x12345678, 0xFFFF) == h("28 00 12 34 56 78 00 ff ff 00")


def test_read12_puts_a_32_bit_count_in_bytes_6_to_9_and_streaming_in_byte_10_bit_7():
    assert mmc.read_12(0x12345678, 0x10000, streaming=True) == h("a8 00 12 34 56 78 00 01 00 00 80 00")


def test_read12_with_fua():
    assert mmc.read_12(16, 1, fua=True) == h("a8 08 00 00 00 10 00 00 00 01 00 00")


def test_read_cd_user_data_is_byte_9_10h():
    assert mmc.read_cd(0x10, 2) == h("be 00 00 00 00 10 00 00 02 10 00 00")


def test_read_cd_raw_c2_mode1_with_raw_subchannel_puts_a_24_bit_count_in_bytes_6_to_8():
    cdb = mmc.read_cd(0x1234, 0x010203, sector_type=2, main_channel=mmc.READ_CD_RAW_C2, subchannel=1)
    assert cdb == h("be 08 00 00 12 34 01 02 03 fa 01 00")


def test_read_cd_raw_is_f8h():
    assert mmc.read_cd(0, 1, main_channel=mmc.READ_CD_RAW) == h("be 00 00 00 00 00 00 00 01 f8 00 00")


@pytest.mark.parametrize("main_channel, subchannel, size", [
    (mmc.READ_CD_USER_DATA, 0, 2048),
    (mmc.READ_CD_RAW, 0, 2352),
    (mmc.READ_CD_RAW_C2, 0, 2646),      # + 294 bytes of C2 error bits
    (0xFC, 0, 2648),                    # + C2 bits, block error byte and pad byte
    (mmc.READ_CD_RAW, 1, 2448),         # + 96 raw P-W
    (mmc.READ_CD_RAW, 2, 2368),         # + 16 formatted Q
    (mmc.READ_CD_RAW, 4, 2448),         # + 96 R-W
    (mmc.READ_CD_RAW_C2, 1, 2742),
])
def test_read_cd_sector_size(main_channel, subchannel, size):
    assert mmc.read_cd_sector_size(main_channel, subchannel) == size


@pytest.mark.parametrize("call", [
    lambda: mmc.read_10(-1, 1),
    lambda: mmc.read_10(1 << 32, 1),
    lambda: mmc.read_10(0, 0x10000),
    lambda: mmc.read_12(0, 1 << 32),
    lambda: mmc.read_cd(0, 1 << 24),
    lambda: mmc.read_cd(0, 1, sector_type=6),
    lambda: mmc.read_cd(0, 1, main_channel=0x11),      # byte 9 bit 0 is reserved
    lambda: mmc.read_cd(0, 1, main_channel=0xFE),      # C2 code 11b is reserved
    lambda: mmc.read_cd(0, 1, subchannel=3),
    lambda: mmc.read_cd_sector_size(0xF8, 3),
    lambda: mmc.read_toc(0x10),
    lambda: mmc.get_configuration(rt=3),
    lambda: mmc.mode_sense_10(0x40),
    lambda: mmc.mode_sense_10(0x01, page_control=4),
    lambda: mmc.request_sense(256),
    lambda: mmc.set_cd_speed(0x10000),
    lambda: mmc.read_track_information(1, address_type=3),
    lambda: mmc.mode_select_10_parameters(h("01 0a 00")),
])
def test_builders_refuse_values_that_do_not_fit_their_fields(call):
    with pytest.raises(ValueError):
        call()


def test_read_toc_format_0_lba_with_allocation_fffeh():
    assert mmc.read_toc(mmc.TOC_FORMAT_TOC) == h("43 00 00 00 00 00 00 ff fe 00")


def test_read_toc_full_toc_msf_for_session_1_puts_format_in_byte_2_and_session_in_byte_6():
    cdb = mmc.read_toc(mmc.TOC_FORMAT_FULL, msf=True, track_or_session=1, allocation_length=0x400)
    assert cdb == h("43 02 02 00 00 00 01 04 00 00")


def test_read_disc_information_asks_for_34_bytes():
    assert mmc.read_disc_information() == h("51 00 00 00 00 00 00 00 22 00")


def test_read_track_information_of_track_1_uses_address_type_1():
    assert mmc.read_track_information(1) == h("52 01 00 00 00 01 00 00 30 00")


def test_read_track_information_of_an_lba_uses_address_type_0():
    assert mmc.read_track_information(0x1000, address_type=0, allocation_length=36) == h("52 00 00 00 10 00 00 00 24 00")


def test_get_configuration_one_feature_puts_rt_in_byte_1_and_feature_in_bytes_2_to_3():
    assert mmc.get_configuration(rt=mmc.RT_ONE, starting_feature=0x001E, allocation_length=16) == \
        h("46 02 00 1e 00 00 00 00 10 00")


def test_get_configuration_default_is_all_features_with_allocation_fff8h():
    assert mmc.get_configuration() == h("46 00 00 00 00 00 00 ff f8 00")


def test_get_event_status_notification_is_polled_media_class():
    assert mmc.get_event_status_notification() == h("4a 01 00 00 10 00 00 00 08 00")


def test_mode_sense_10_page_01h_current_values_with_dbd():
    assert mmc.mode_sense_10(0x01) == h("5a 08 01 00 00 00 00 ff f8 00")


def test_mode_sense_10_changeable_mask_is_page_control_1_in_byte_2_bits_7_to_6():
    assert mmc.mode_sense_10(0x01, page_control=1, allocation_length=256) == h("5a 08 41 00 00 00 00 01 00 00")


def test_mode_sense_10_capabilities_page_without_dbd():
    assert mmc.mode_sense_10(0x2A, dbd=False, allocation_length=0x40) == h("5a 00 2a 00 00 00 00 00 40 00")


def test_mode_select_10_sets_pf_and_never_sp():
    assert mmc.mode_select_10(20) == h("55 10 00 00 00 00 00 00 14 00")


def test_set_cd_speed_default_is_ffffh_for_read_and_write():
    assert mmc.set_cd_speed() == h("bb 00 ff ff ff ff 00 00 00 00 00 00")


def test_set_cd_speed_8x_cd_is_1411_kbps_in_bytes_2_to_3():
    assert mmc.set_cd_speed(read_kbps=1411) == h("bb 00 05 83 ff ff 00 00 00 00 00 00")


def test_set_streaming_puts_the_parameter_list_length_in_bytes_9_to_10():
    assert mmc.set_streaming() == h("b6 00 00 00 00 00 00 00 00 00 1c 00")


def test_performance_descriptor_reads_read_kbps_per_1000_ms_over_the_range():
    assert mmc.performance_descriptor(0, 0x57DFF, 5540) == h(
        "00 00 00 00  00 00 00 00  00 05 7d ff  00 00 15 a4  00 00 03 e8  00 00 15 a4  00 00 03 e8")


def test_performance_descriptor_restore_defaults_and_exact_are_byte_0_bits_2_and_1():
    assert mmc.performance_descriptor(0, 0, 1, restore_defaults=True, exact=True)[:4] == h("06 00 00 00")


def test_get_performance_default_asks_for_nominal_read_performance():
    assert mmc.get_performance() == h("ac 10 00 00 00 00 00 00 00 40 00 00")


def test_get_performance_write_speed_descriptors_are_type_3_in_byte_10():
    assert mmc.get_performance(performance_type=3, data_type=0, max_descriptors=8) == \
        h("ac 00 00 00 00 00 00 00 00 08 03 00")


def test_read_disc_structure_dvd_physical_format_layer_0():
    assert mmc.read_disc_structure(0x00) == h("ad 00 00 00 00 00 00 00 ff f8 00 00")


def test_read_disc_structure_puts_media_type_layer_and_format_in_bytes_1_6_7():
    assert mmc.read_disc_structure(0x01, media_type=1, layer=1, allocation_length=8) == \
        h("ad 01 00 00 00 00 01 01 00 08 00 00")


# -- pyscsi as an oracle --------------------------------------------------------------------------

pyscsi_enum = pytest.importorskip("pyscsi.pyscsi.scsi_enum_command")
from pyscsi.pyscsi.scsi_cdb_inquiry import Inquiry as PyscsiInquiry  # noqa: E402
from pyscsi.pyscsi.scsi_cdb_read10 import Read10 as PyscsiRead10  # noqa: E402
from pyscsi.pyscsi.scsi_cdb_read12 import Read12 as PyscsiRead12  # noqa: E402
from pyscsi.pyscsi.scsi_cdb_readcapacity10 import ReadCapacity10 as PyscsiReadCapacity10  # noqa: E402
from pyscsi.pyscsi.scsi_cdb_readcd import ReadCd as PyscsiReadCd  # noqa: E402

from pyscsi.pyscsi.scsi_command import SCSICommand  # noqa: E402

PYSCSI_MMC = pyscsi_enum.mmc
LBAS = st.integers(0, 0xFFFF_FFFF)


def _pyscsi_cdb(command_class, opcode, **fields) -> bytes:
    """The CDB pyscsi's `command_class` marshalls, without its constructor's data-in buffer.

    The constructors allocate blocksize x count bytes up front (4 GiB for a READ(12) of
    FFFFFFFFh sectors); this does the rest of what they do: bit table, CDB size, marshall_cdb.
    """
    SCSICommand._cdb_bits = command_class._cdb_bits
    SCSICommand._cdb = SCSICommand.init_cdb(opcode)
    return bytes(SCSICommand.marshall_cdb({"opcode": opcode.value, **fields}))


def test_pyscsi_cdb_helper_agrees_with_the_pyscsi_constructors():
    assert _pyscsi_cdb(PyscsiRead10, PYSCSI_MMC.READ_10, lba=7, tl=3, fua=1) == \
        bytes(PyscsiRead10(PYSCSI_MMC.READ_10, 2048, 7, 3, fua=1).cdb)
    assert _pyscsi_cdb(PyscsiRead12, PYSCSI_MMC.READ_12, lba=7, tl=3) == \
        bytes(PyscsiRead12(PYSCSI_MMC.READ_12, 2048, 7, 3).cdb)
    assert _pyscsi_cdb(PyscsiReadCd, PYSCSI_MMC.READ_CD, lba=7, tl=3, est=2, mcsb=0x1F, c2ei=1, scsb=1) == \
        bytes(PyscsiReadCd(PYSCSI_MMC.READ_CD, 7, 3, est=2, mcsb=0x1F, c2ei=1, scsb=1).cdb)


def test_read10_cdb_equals_pyscsi_constructor():
    assert mmc.read_10(0x12345678, 32, fua=True) == bytes(PyscsiRead10(PYSCSI_MMC.READ_10, 2048, 0x12345678, 32, fua=1).cdb)


@given(LBAS, st.integers(0, 0xFFFF), st.booleans())
def test_read10_cdb_equals_pyscsi(lba, count, fua):
    assert mmc.read_10(lba, count, fua=fua) == _pyscsi_cdb(PyscsiRead10, PYSCSI_MMC.READ_10, lba=lba, tl=count, fua=int(fua))


@given(LBAS, st.integers(0, 0xFFFF_FFFF), st.booleans())
def test_read12_cdb_equals_pyscsi(lba, count, fua):
    # pyscsi has no Streaming bit (byte 10 bit 7): compared with streaming=False only
    assert mmc.read_12(lba, count, fua=fua) == _pyscsi_cdb(PyscsiRead12, PYSCSI_MMC.READ_12, lba=lba, tl=count, fua=int(fua))


def _pyscsi_read_cd(lba: int, count: int, sector_type: int, main_channel: int, subchannel: int) -> bytes:
    # pyscsi splits byte 9: mcsb = bits 7-3, c2ei = bits 2-1
    return _pyscsi_cdb(PyscsiReadCd, PYSCSI_MMC.READ_CD, lba=lba, tl=count, est=sector_type, mcsb=main_channel >> 3,
                       c2ei=(main_channel >> 1) & 0x03, scsb=subchannel)


READ_CD_CHANNELS = st.sampled_from([mmc.READ_CD_USER_DATA, mmc.READ_CD_RAW, mmc.READ_CD_RAW_C2, 0xFC])


@given(LBAS, st.integers(0, 0xFF_FFFF), st.integers(0, 5), READ_CD_CHANNELS, st.sampled_from([0, 1, 2, 4]))
def test_read_cd_cdb_equals_pyscsi_outside_the_transfer_length(lba, count, sector_type, main_channel, subchannel):
    ours = mmc.read_cd(lba, count, sector_type=sector_type, main_channel=main_channel, subchannel=subchannel)
    theirs = _pyscsi_read_cd(lba, count & 0xFFFF, sector_type, main_channel, subchannel)
    assert ours[:6] + ours[9:] == theirs[:6] + theirs[9:]


@pytest.mark.skip(reason="pyscsi 2.1 bug: ReadCd declares the transfer length as 16 bits at byte 6 "
                         "('tl': [0xffff, 6]); MMC's is 24 bits at bytes 6-8, so pyscsi sends "
                         "count x 256 (READ CD of 1 sector: 'be 00 .. 00 01 00 ..' reads 256)")
def test_read_cd_transfer_length_equals_pyscsi():
    assert mmc.read_cd(0, 1) == _pyscsi_read_cd(0, 1, 0, mmc.READ_CD_USER_DATA, 0)


def test_pyscsi_read_cd_transfer_length_bug_is_still_there():
    # the reason the test above is skipped, pinned: when pyscsi fixes it, un-skip that test
    assert _pyscsi_read_cd(0, 1, 0, mmc.READ_CD_USER_DATA, 0)[6:9] == h("00 01 00")
    assert mmc.read_cd(0, 1)[6:9] == h("00 00 01")


@given(st.booleans(), st.integers(0, 0xFF), st.integers(0, 0xFFFF))
def test_inquiry_cdb_equals_pyscsi(evpd, page_code, allocation_length):
    page_code = page_code if evpd else 0
    theirs = PyscsiInquiry(PYSCSI_MMC.INQUIRY, evpd=int(evpd), page_code=page_code, alloclen=allocation_length)
    assert mmc.inquiry(evpd=evpd, page_code=page_code, allocation_length=allocation_length) == bytes(theirs.cdb)


def test_read_capacity_10_cdb_equals_pyscsi():
    # pyscsi's MMC table calls it READ_CAPACITY (25h)
    assert mmc.read_capacity_10() == bytes(PyscsiReadCapacity10(PYSCSI_MMC.READ_CAPACITY).cdb)


def test_parse_read_capacity_10_agrees_with_pyscsi():
    data = h("00 05 7d ff 00 00 08 00")
    theirs = PyscsiReadCapacity10.unmarshall_datain(data)
    assert mmc.parse_read_capacity_10(data) == mmc.Capacity(theirs["returned_lba"], theirs["block_length"])


# -- response parsers ------------------------------------------------------------------------------

STANDARD_INQUIRY = (h("05 80 05 32 1f 00 00 00") + b"HL-DT-ST" + b"DVDRAM GH24NSD1 " + b"LG00"
                    + h("00" * 60))


def test_parse_inquiry_reads_type_rmb_and_space_padded_ascii():
    assert mmc.parse_inquiry(STANDARD_INQUIRY) == mmc.Inquiry(5, True, "HL-DT-ST", "DVDRAM GH24NSD1", "LG00")


def test_parse_inquiry_strips_nul_padding_and_replaces_non_ascii():
    data = h("05 00 00 00 1f 00 00 00") + b"ACME\x00\x00\x00\x00" + b"DRIVE\xff" + b" " * 10 + b"1.0\x00"
    assert mmc.parse_inquiry(data) == mmc.Inquiry(5, False, "ACME", "DRIVE\ufffd", "1.0")


def test_parse_unit_serial_number_reads_page_length_bytes_after_byte_4():
    assert mmc.parse_unit_serial_number(h("05 80 00 0a") + b"  K1234567" + h("00 00")) == "K1234567"


def test_parse_unit_serial_number_of_another_page_raises():
    with pytest.raises(MalformedResponse):
        mmc.parse_unit_serial_number(h("05 00 00 02 00 80"))


def test_parse_unit_serial_number_cut_short_raises():
    with pytest.raises(MalformedResponse):
        mmc.parse_unit_serial_number(h("05 80 00 0a") + b"K123")


def test_parse_read_capacity_10_sectors_is_last_lba_plus_one():
    capacity = mmc.parse_read_capacity_10(h("00 05 7d ff 00 00 08 00"))
    assert (capacity.last_lba, capacity.block_length, capacity.sectors) == (359935, 2048, 359936)


# a mixed-mode CD: data track 1 at 0, audio track 2 at 4096, lead-out at 8192
TOC_TWO_TRACKS = h("00 1a 01 02"
                   "00 14 01 00 00 00 00 00"
                   "00 10 02 00 00 00 10 00"
                   "00 14 aa 00 00 00 20 00")


def test_parse_toc_reads_adr_control_track_and_start():
    toc = mmc.parse_toc(TOC_TWO_TRACKS)
    assert (toc.first_track, toc.last_track) == (1, 2)
    assert toc.entries == (mmc.TocEntry(1, 1, 4, 0), mmc.TocEntry(2, 1, 0, 4096), mmc.TocEntry(0xAA, 1, 4, 8192))


def test_toc_leadout_and_data_tracks():
    toc = mmc.parse_toc(TOC_TWO_TRACKS)
    assert toc.leadout_lba == 8192
    assert [e.track for e in toc.data_tracks] == [1]
    assert (toc.entries[0].is_data, toc.entries[1].is_data) == (True, False)


def test_parse_toc_without_leadout_has_leadout_lba_none():
    assert mmc.parse_toc(h("00 0a 01 01 00 14 01 00 00 00 00 00")).leadout_lba is None


def test_parse_toc_start_address_is_signed():
    # a pregap before LBA 0 (MSF 00:00:00 = LBA -150), seen on hidden-track audio CDs
    assert mmc.parse_toc(h("00 0a 01 01 00 10 01 00 ff ff ff 6a")).entries[0].start_lba == -150


def test_parse_toc_ignores_zero_padding_after_its_data_length():
    assert mmc.parse_toc(TOC_TWO_TRACKS + bytes(100)) == mmc.parse_toc(TOC_TWO_TRACKS)


def test_parse_toc_cut_by_the_allocation_length_keeps_the_whole_descriptors():
    assert [e.track for e in mmc.parse_toc(TOC_TWO_TRACKS[:4 + 8 + 5]).entries] == [1]


def test_parse_toc_with_a_data_length_that_is_not_whole_descriptors_raises():
    with pytest.raises(MalformedResponse):
        mmc.parse_toc(h("00 0b 01 01 00 14 01 00 00 00 00 00 00"))


def test_parse_session_info_reads_first_track_and_start_of_the_last_session():
    info = mmc.parse_session_info(h("00 0a 01 02 00 14 03 00 00 00 4e 20"))
    assert info == mmc.SessionInfo(1, 2, 3, 20000)


def test_parse_full_toc_reads_11_byte_descriptors():
    full = mmc.parse_full_toc(h("00 18 01 01"
                                "01 14 00 a0 00 00 00 00 01 20 00"
                                "01 14 00 a2 00 00 00 00 4f 3b 4a"))
    assert (full.first_session, full.last_session) == (1, 1)
    assert full.entries == (mmc.FullTocEntry(1, 1, 4, 0, 0xA0, 0, 0, 0, 0, 1, 0x20, 0),
                            mmc.FullTocEntry(1, 1, 4, 0, 0xA2, 0, 0, 0, 0, 79, 59, 74))


def test_msf_to_lba_subtracts_the_150_sector_pregap():
    assert (mmc.msf_to_lba(0, 2, 0), mmc.msf_to_lba(79, 59, 74)) == (0, 359849)


DISC_INFO_CD_ROM = h("00 20 0e 01 01 01 01 00 20 00 00 00") + bytes(22)


def test_parse_disc_information_of_a_pressed_cd():
    assert mmc.parse_disc_information(DISC_INFO_CD_ROM) == mmc.DiscInformation(
        erasable=False, last_session_state=3, disc_status=2, first_track=1, sessions=1,
        first_track_in_last_session=1, last_track_in_last_session=1, disc_type=0x20,
        last_session_lead_in=0, last_possible_lead_out=0)


def test_parse_disc_information_combines_lsb_bytes_4_5_6_with_msb_bytes_9_10_11():
    di = mmc.parse_disc_information(h("00 20 19 01 2c 02 03 00 00 01 01 01") + bytes(22))
    assert (di.erasable, di.last_session_state, di.disc_status) == (True, 2, 1)
    assert (di.sessions, di.first_track_in_last_session, di.last_track_in_last_session) == (0x12C, 0x102, 0x103)


TRACK_INFO_TRACK_1 = (h("00 2e 01 01 00 04 01 00") + h("00 00 00 00") + h("00 00 00 00") + h("00 00 00 00")
                      + h("00 00 00 00") + h("00 05 7e 00") + h("00 05 7d ff") + bytes(16))


def test_parse_track_information_reads_track_session_modes_start_and_size():
    assert mmc.parse_track_information(TRACK_INFO_TRACK_1) == mmc.TrackInformation(1, 1, 4, 1, 0, 0x57E00)


def test_parse_track_information_combines_track_and_session_msb_bytes_32_33():
    data = bytearray(TRACK_INFO_TRACK_1)
    data[32:34] = h("01 00")
    assert mmc.parse_track_information(bytes(data)).track == 0x101


# header: data length 18h, current profile 0008h; feature 0000h (version 0, persistent, current,
# length 8): CD-ROM (current), DVD-ROM; feature 001Eh (version 2, current, length 4): C2 flags
CONFIGURATION_CD = h("00 00 00 18 00 00 00 08"
                     "00 00 03 08 00 08 01 00 00 10 00 00"
                     "00 1e 09 04 02 00 00 00")


def test_parse_configuration_reads_current_profile_and_features():
    config = mmc.parse_configuration(CONFIGURATION_CD)
    assert config.current_profile == 0x0008
    assert config.features == (mmc.Feature(0x0000, 0, True, True, h("00 08 01 00 00 10 00 00")),
                               mmc.Feature(0x001E, 2, False, True, h("02 00 00 00")))


def test_configuration_profiles_come_from_feature_0000h():
    assert mmc.parse_configuration(CONFIGURATION_CD).profiles == (mmc.ProfileEntry(0x0008, True),
                                                                  mmc.ProfileEntry(0x0010, False))


def test_configuration_feature_finds_by_code_or_none():
    config = mmc.parse_configuration(CONFIGURATION_CD)
    assert config.feature(0x001E).data == h("02 00 00 00")
    assert config.feature(0x0108) is None


def test_parse_configuration_cut_by_the_allocation_length_drops_the_partial_feature():
    assert [f.code for f in mmc.parse_configuration(CONFIGURATION_CD[:24]).features] == [0x0000]


def test_parse_configuration_with_a_feature_past_the_data_length_raises():
    with pytest.raises(MalformedResponse):
        mmc.parse_configuration(h("00 00 00 0a 00 00 00 08 00 1e 09 04 02 00 00 00"))


def test_parse_configuration_with_no_medium_has_profile_0():
    config = mmc.parse_configuration(h("00 00 00 04 00 00 00 00"))
    assert (config.current_profile, config.features, config.profiles) == (0, (), ())


@pytest.mark.parametrize("code, name", [
    (0x0008, "CD-ROM"), (0x0009, "CD-R"), (0x000A, "CD-RW"), (0x0010, "DVD-ROM"), (0x0011, "DVD-R SL"),
    (0x0012, "DVD-RAM"), (0x0013, "DVD-RW restricted overwrite"), (0x0014, "DVD-RW sequential"),
    (0x0015, "DVD-R DL"), (0x0016, "DVD-R DL layer jump"), (0x0017, "DVD-RW DL"), (0x001A, "DVD+RW"),
    (0x001B, "DVD+R"), (0x002A, "DVD+RW DL"), (0x002B, "DVD+R DL"), (0x0040, "BD-ROM"), (0x0041, "BD-R SRM"),
    (0x0042, "BD-R RRM"), (0x0043, "BD-RE"), (0x0050, "HD DVD-ROM"),
])
def test_every_profile_in_docs_reference_mmc_has_its_name(code, name):
    assert mmc.profile_name(code) == name        # families: tests/test_profiles.py


def test_profile_and_feature_names_never_raise():
    assert mmc.profile_name(0x0000) == "no current profile"
    assert mmc.profile_name(0xFFFF) == "Non-conforming profile"
    assert mmc.profile_name(0x0100) == "profile 0100h"
    assert mmc.feature_name(0x001E) == "CD Read"
    assert mmc.feature_name(0x0123) == "feature 0123h"
    assert {0x0000, 0x0001, 0x0002, 0x0003, 0x001D, 0x001E, 0x001F, 0x0040, 0x0107, 0x0108} <= set(mmc.FEATURE_NAMES)


def test_parse_media_event_reads_event_and_media_status():
    assert mmc.parse_media_event(h("00 06 04 10 02 02 00 00")) == mmc.MediaEvent(2, True, False)


def test_parse_media_event_tray_open_without_media():
    assert mmc.parse_media_event(h("00 06 04 10 03 01 00 00")) == mmc.MediaEvent(3, False, True)


@pytest.mark.parametrize("raw", [
    "00 02 80 10",                  # NEA: no event available
    "00 06 01 10 00 02 00 00",      # operational change class, not media
    "00 06 04 10 02",               # cut inside the media descriptor
    "00 02 04 10 00 00 00 00",      # event data length too short for a media descriptor
])
def test_parse_media_event_without_a_media_event_raises(raw):
    with pytest.raises(MalformedResponse):
        mmc.parse_media_event(h(raw))


ERROR_RECOVERY_SENSE = h("00 12 00 00 00 00 00 00" "81 0a c4 20 00 00 00 00 05 00 00 3c")


def test_parse_mode_sense_10_returns_the_page_after_the_header():
    assert mmc.parse_mode_sense_10(ERROR_RECOVERY_SENSE) == mmc.ModePage(0x01, True, h("c4 20 00 00 00 00 05 00 00 3c"))


def test_parse_mode_sense_10_skips_block_descriptors():
    with_descriptor = h("00 1a 00 00 00 00 00 08" "00 00 00 00 00 00 08 00" "01 0a c4 20 00 00 00 00 05 00 00 3c")
    assert mmc.parse_mode_sense_10(with_descriptor) == mmc.ModePage(0x01, False, h("c4 20 00 00 00 00 05 00 00 3c"))


def test_parse_mode_sense_10_with_a_page_cut_short_raises():
    with pytest.raises(MalformedResponse):
        mmc.parse_mode_sense_10(ERROR_RECOVERY_SENSE[:14])


def test_error_recovery_page_reads_byte_2_flags_retry_counts_and_time_limit():
    page = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(ERROR_RECOVERY_SENSE))
    assert page == mmc.ErrorRecoveryPage(awre=True, arre=True, tb=False, rc=False, per=True, dte=False, dcr=False,
                                         read_retry_count=0x20, write_retry_count=5, recovery_time_limit=60)


def test_error_recovery_page_to_bytes_is_the_12_byte_page_with_ps_clear():
    page = mmc.ErrorRecoveryPage(awre=True, arre=True, tb=True, rc=True, per=True, dte=True, dcr=True,
                                 read_retry_count=1, write_retry_count=2, recovery_time_limit=0x0102)
    assert page.to_bytes() == h("01 0a f7 01 00 00 00 00 02 00 01 02")


def test_error_recovery_page_with_per_set_by_replace():
    current = mmc.ErrorRecoveryPage.from_page(mmc.ModePage(0x01, True, h("c0 20 00 00 00 00 05 00 00 3c")))
    assert dataclasses.replace(current, per=True).to_bytes() == h("01 0a c4 20 00 00 00 00 05 00 00 3c")


def test_error_recovery_page_from_another_page_raises():
    with pytest.raises(MalformedResponse):
        mmc.ErrorRecoveryPage.from_page(mmc.ModePage(0x2A, False, bytes(20)))


# page 2Ah, 22 bytes: byte 2 reads CD-R, CD-RW, DVD-ROM, DVD-R; byte 5 C2, accurate, CD-DA;
# byte 6 tray/eject/lock; 8-9 max read speed 1B90h (40x CD); 12-13 buffer; 14-15 current speed
CAPABILITIES_SENSE = h("00 1c 00 00 00 00 00 00"
                       "2a 14 1b 00 00 13 29 00 1b 90 00 00 08 00 1b 90 00 00 00 00 00 00")


def test_capabilities_page_reads_read_abilities_c2_cd_da_and_max_speed():
    caps = mmc.CapabilitiesPage.from_page(mmc.parse_mode_sense_10(CAPABILITIES_SENSE))
    assert caps == mmc.CapabilitiesPage(read_cd_r=True, read_cd_rw=True, read_dvd_rom=True, read_dvd_r=True,
                                        read_dvd_ram=False, c2_pointers=True, cd_da_commands=True,
                                        cd_da_accurate=True, max_read_speed_kbps=7056)


def test_mode_select_10_parameters_are_an_empty_header_then_the_page_with_ps_clear():
    assert mmc.mode_select_10_parameters(h("81 0a c4 20 00 00 00 00 05 00 00 3c")) == \
        h("00 00 00 00 00 00 00 00" "01 0a c4 20 00 00 00 00 05 00 00 3c")


def test_parse_performance_reads_16_byte_descriptors():
    data = h("00 00 00 14 00 00 00 00" "00 00 00 00 00 00 1b 90 00 05 7d ff 00 00 1b 90")
    assert mmc.parse_performance(data) == (mmc.Performance(0, 7056, 0x57DFF, 7056),)


# header; layer descriptor: DVD-ROM part 1, 120 mm, 10.08 Mbit/s, two layers OTP embossed,
# data area 30000h-FD0FFFh, layer 0 ends at 24B3FFh
DVD_PHYSICAL = h("08 02 00 00" "01 02 31 10 00 03 00 00 00 fd 0f ff 00 24 b3 ff 00") + bytes(2031)


def test_parse_dvd_physical_format_reads_ecma_267_fields():
    assert mmc.parse_dvd_physical_format(DVD_PHYSICAL) == mmc.DvdPhysicalFormat(
        book_type=0, part_version=1, disc_size=0, max_rate=2, layers=2, track_path=1, layer_type=1,
        linear_density=1, track_density=0, data_start=0x30000, data_end=0xFD0FFF, layer0_end=0x24B3FF)


def test_the_pfi_density_codes_give_the_spiral_ecma_267_names():
    """Byte 3 = 10h: linear density 1 (0.293 um a data bit: 26.16 Mbit/s x 0.1465 um = 3.83 m/s,
    the dual-layer velocity), track density 0 (0.74 um); a code of another book names nothing."""
    pfi = mmc.parse_dvd_physical_format(DVD_PHYSICAL)
    assert pfi.track_pitch_m == 0.74e-6
    assert abs(pfi.velocity_m_s - 3.832) < 0.001
    single = mmc.parse_dvd_physical_format(DVD_PHYSICAL[:7] + b"\x00" + DVD_PHYSICAL[8:])
    assert abs(single.velocity_m_s - 3.492) < 0.001
    other = mmc.parse_dvd_physical_format(DVD_PHYSICAL[:7] + b"\x23" + DVD_PHYSICAL[8:])
    assert (other.track_pitch_m, other.velocity_m_s) == (None, None)


def test_parse_copyright_reads_protection_type_and_region_mask():
    assert mmc.parse_copyright(h("00 06 00 00 01 fe 00 00")) == mmc.Copyright(protection_type=1, region_mask=0xFE)


# -- every parser on any bytes ------------------------------------------------------------------

PARSERS = [mmc.parse_inquiry, mmc.parse_unit_serial_number, mmc.parse_read_capacity_10, mmc.parse_toc,
           mmc.parse_session_info, mmc.parse_full_toc, mmc.parse_disc_information, mmc.parse_track_information,
           mmc.parse_configuration, mmc.parse_media_event, mmc.parse_mode_sense_10, mmc.parse_performance,
           mmc.parse_dvd_physical_format, mmc.parse_copyright, mmc.parse_atip, mmc.parse_pma, mmc.parse_cd_text,
           mmc.parse_bca, mmc.parse_dmi, mmc.parse_bd_disc_information, mmc.parse_mcn, mmc.parse_isrc]


def test_the_parser_list_covers_every_parse_function():
    assert {p.__name__ for p in PARSERS} == {n for n in dir(mmc) if n.startswith("parse_")}


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@given(data=st.binary(max_size=200))
def test_every_parser_on_any_bytes_returns_or_raises_malformed_response(parser, data):
    try:
        result = parser(data)
    except MalformedResponse:
        return
    if isinstance(result, mmc.Configuration):
        result.profiles                              # noqa: B018 - derived from feature bytes
    if isinstance(result, mmc.ModePage):
        for page_class in (mmc.ErrorRecoveryPage, mmc.CapabilitiesPage):
            try:
                page_class.from_page(result)
            except MalformedResponse:
                pass


@given(code=st.integers(0, 0x3F), saveable=st.booleans(), body=st.binary(max_size=40))
def test_mode_page_decoders_on_any_page_return_or_raise_malformed_response(code, saveable, body):
    for page_class in (mmc.ErrorRecoveryPage, mmc.CapabilitiesPage):
        try:
            page = page_class.from_page(mmc.ModePage(code, saveable, body))
        except MalformedResponse:
            continue
        if isinstance(page, mmc.ErrorRecoveryPage):
            assert len(page.to_bytes()) == 12


# -- round trip through the simulated drive -----------------------------------------------------

@pytest.fixture
def simulated(tmp_path):
    from acquire.drive.sim import SimulatedDrive

    profile = tmp_path / "p.toml"
    profile.write_text('[drive]\nvendor = "ACME"\nproduct = "SIM"\nrevision = "0.1"\nserial = "S-42"\n'
                       '[disc]\nprofile = "dvd-rom"\nsectors = 5000\n')
    drive = SimulatedDrive.from_profile(profile)
    yield drive
    drive.close()


def _data(drive, cdb: bytes, length: int) -> bytes:
    done = drive.execute(cdb, data_in_length=length)
    assert done.ok, done.sense.hex(" ")
    return done.data


def test_what_mmc_builds_the_simulated_drive_answers_and_mmc_parses(simulated):
    inq = mmc.parse_inquiry(_data(simulated, mmc.inquiry(), 96))
    assert (inq.vendor, inq.product, inq.revision, inq.removable) == ("ACME", "SIM", "0.1", True)
    serial = _data(simulated, mmc.inquiry(evpd=True, page_code=0x80, allocation_length=252), 252)
    assert mmc.parse_unit_serial_number(serial) == "S-42"
    assert mmc.parse_read_capacity_10(_data(simulated, mmc.read_capacity_10(), 8)).sectors == 5000
    assert mmc.parse_toc(_data(simulated, mmc.read_toc(mmc.TOC_FORMAT_TOC, allocation_length=4096), 4096)).leadout_lba == 5000
    config = mmc.parse_configuration(_data(simulated, mmc.get_configuration(allocation_length=4096), 4096))
    assert config.current_profile == 0x0010 and mmc.ProfileEntry(0x0010, True) in config.profiles
    assert mmc.parse_disc_information(_data(simulated, mmc.read_disc_information(), 34)).disc_status == 2
    assert mmc.parse_track_information(_data(simulated, mmc.read_track_information(1), 48)).size == 5000
    assert mmc.parse_media_event(_data(simulated, mmc.get_event_status_notification(), 8)).media_present
    physical = mmc.parse_dvd_physical_format(_data(simulated, mmc.read_disc_structure(0), 0xFFF8))
    assert physical.data_end - physical.data_start + 1 == 5000
    assert _data(simulated, mmc.read_10(100, 2), 4096) == _data(simulated, mmc.read_12(100, 2), 4096)


def test_error_recovery_page_survives_mode_sense_and_mode_select_on_the_simulated_drive(simulated):
    current = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(_data(simulated, mmc.mode_sense_10(0x01), 256)))
    mask = mmc.ErrorRecoveryPage.from_page(
        mmc.parse_mode_sense_10(_data(simulated, mmc.mode_sense_10(0x01, page_control=1), 256)))
    assert mask.per, "the simulated drive lets PER change"
    params = mmc.mode_select_10_parameters(dataclasses.replace(current, per=not current.per).to_bytes())
    assert simulated.execute(mmc.mode_select_10(len(params)), data_out=params).ok
    again = mmc.ErrorRecoveryPage.from_page(mmc.parse_mode_sense_10(_data(simulated, mmc.mode_sense_10(0x01), 256)))
    assert again == dataclasses.replace(current, per=not current.per)


# -- the package ---------------------------------------------------------------------------------

def test_every_name_of_the_package_is_reachable_as_mmc_dot_name():
    assert all(hasattr(mmc, name) for name in mmc.__all__)
    assert mmc.read_10 is __import__("acquire.drive.mmc.read", fromlist=["read_10"]).read_10


def test_every_opcode_constant_has_its_name_in_the_one_table():
    from acquire.drive.mmc import opcodes
    constants = {value for name, value in vars(opcodes).items() if name.isupper() and isinstance(value, int)
                 and name not in ("USER_DATA_BYTES", "SECTOR_BYTES", "MAX_LBA")}
    assert constants == set(mmc.OPCODE_NAMES)
    assert (mmc.opcode_name(0x28), mmc.opcode_name(0x2A)) == ("READ(10)", "opcode 2Ah")


def test_the_real_side_has_one_sector_size_and_device_re_exports_it():
    from acquire.drive import device
    assert device.SECTOR_BYTES == mmc.USER_DATA_BYTES == mmc.SECTOR_BYTES == 2048
