"""The simulated drive as an MMC target: hand-written CDBs in, bytes checked at spec offsets.

Every CDB here is written out in hex from docs/reference/mmc.md, never built by acquire.drive.mmc, so
these tests check the simulation independently of the code it is used to test.
"""
from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acquire.drive.sim import SimulatedDrive, generated_sector
from acquire.drive.sim.reads import generated_sectors
from acquire.drive.sim import Damage, DamageMap, load_profile
from acquire.drive.transport import Transport
from acquire.errors import DriveGone, ProfileError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SECTORS = 200                     # the test image: 200 sectors of seeded random bytes
CD_RATE_24X = 24 * 153_600        # bytes/s
OVERHEAD, SEEK_BASE, SEEK_FULL, ERROR_DELAY = 0.0005, 0.08, 0.12, 8.0
TIMING = f"""
[timing]
speed_x = 24
error_delay_s = {ERROR_DELAY}
seek_base_s = {SEEK_BASE}
seek_full_s = {SEEK_FULL}
overhead_s = {OVERHEAD}
"""

TEST_UNIT_READY = bytes.fromhex("00 00 00 00 00 00")
REQUEST_SENSE = bytes.fromhex("03 00 00 00 fc 00")
READ_CAPACITY = bytes.fromhex("25 00 00 00 00 00 00 00 00 00")
GESN_MEDIA = bytes.fromhex("4a 01 00 00 10 00 00 00 08 00")


def read10(lba: int, count: int) -> bytes:
    """Only for LBAs chosen at run time; the fixed vectors below are literal hex."""
    return bytes.fromhex("28 00") + lba.to_bytes(4, "big") + b"\x00" + count.to_bytes(2, "big") + b"\x00"


def image_bytes(sectors: int = SECTORS) -> bytes:
    return random.Random(7).randbytes(sectors * 2048)


@pytest.fixture
def make(tmp_path):
    """make(profile_text) -> an open SimulatedDrive over tmp_path/disc.iso (SECTORS sectors)."""
    drives = []
    (tmp_path / "disc.iso").write_bytes(image_bytes())

    def _make(text: str = "", *, disc: str = '[disc]\nprofile = "cd-rom"\nimage = "disc.iso"\n',
              timing: str = TIMING, name: str = "p.toml") -> SimulatedDrive:
        path = tmp_path / name
        path.write_text(disc + timing + text)
        drive = SimulatedDrive.from_profile(path)
        drives.append(drive)
        return drive

    yield _make
    for drive in drives:
        drive.close()


def sense_of(done) -> str:
    assert done.status == 0x02 and done.data == b""
    assert len(done.sense) == 18 and done.sense[0] & 0x7F == 0x70 and done.sense[7] == 10
    return f"{done.sense[2] & 0x0F:02X}/{done.sense[12]:02X}/{done.sense[13]:02X}"


def information(done) -> int | None:
    return int.from_bytes(done.sense[3:7], "big") if done.sense[0] & 0x80 else None


def ok(done) -> bytes:
    assert done.status == 0 and done.sense == b"", done.sense.hex(" ")
    return done.data


# -- identity and the Transport surface ---------------------------------------------------------

def test_simulated_drive_is_a_transport_named_after_its_profile(make, tmp_path):
    drive = make()
    assert isinstance(drive, Transport)
    assert drive.name == f"sim:{tmp_path / 'p.toml'}"
    assert drive.capacity == SECTORS and drive.profile.disc_profile == "cd-rom"
    named = SimulatedDrive.from_profile(tmp_path / "p.toml", name="sim:x.toml")
    assert named.name == "sim:x.toml"
    named.close()


def test_test_unit_ready_is_good_and_costs_the_overhead(make):
    drive = make()
    done = drive.execute(TEST_UNIT_READY)
    assert ok(done) == b"" and done.duration_s == OVERHEAD and drive.clock_s == OVERHEAD
    assert drive.commands == 1


def test_inquiry_standard_data_has_device_type_5_removable_and_the_profile_strings(make):
    drive = make('[drive]\nvendor = "VEND"\nproduct = "PROD X"\nrevision = "2.1"\n')
    data = ok(drive.execute(bytes.fromhex("12 00 00 00 60 00"), data_in_length=96))
    assert data[0] & 0x1F == 0x05 and data[1] & 0x80
    assert data[4] == len(data) - 5
    assert (data[8:16], data[16:32], data[32:36]) == (b"VEND    ", b"PROD X          ", b"2.1 ")


def test_inquiry_vpd_80h_gives_the_serial_when_set(make):
    drive = make('[drive]\nserial = "SN-42"\n')
    data = ok(drive.execute(bytes.fromhex("12 01 80 00 fc 00"), data_in_length=252))
    assert data[1] == 0x80 and data[3] == 5 and data[4:9] == b"SN-42"


def test_inquiry_vpd_80h_without_a_serial_is_invalid_field_in_cdb(make):
    drive = make()
    assert sense_of(drive.execute(bytes.fromhex("12 01 80 00 fc 00"), data_in_length=252)) == "05/24/00"


def test_allocation_length_and_data_in_length_both_truncate(make):
    drive = make()
    assert len(ok(drive.execute(bytes.fromhex("12 00 00 00 05 00"), data_in_length=96))) == 5
    assert len(ok(drive.execute(bytes.fromhex("12 00 00 00 60 00"), data_in_length=10))) == 10
    two = ok(drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 02 00"), data_in_length=2048))
    assert two == drive.expected_sector(0)


def test_unknown_opcode_is_invalid_command_operation_code(make):
    drive = make()
    assert sense_of(drive.execute(bytes.fromhex("2a 00 00 00 00 00 00 00 01 00"), data_in_length=0)) == "05/20/00"
    assert sense_of(drive.execute(bytes.fromhex("ff 00 00 00 00 00"))) == "05/20/00"
    assert drive.commands == 2


def test_a_cdb_shorter_than_its_group_is_invalid_field(make):
    drive = make()
    assert sense_of(drive.execute(bytes.fromhex("25 00 00 00"), data_in_length=8)) == "05/24/00"


def test_request_sense_returns_the_previous_commands_sense_then_none(make):
    drive = make()
    failed = drive.execute(bytes.fromhex("ff 00 00 00 00 00"))
    data = ok(drive.execute(REQUEST_SENSE, data_in_length=252))
    assert data == failed.sense
    clean = ok(drive.execute(REQUEST_SENSE, data_in_length=252))
    assert clean[0] == 0x70 and clean[2] & 0x0F == 0 and clean[12:14] == b"\x00\x00"


# -- medium -------------------------------------------------------------------------------------

def test_read_capacity_gives_the_last_lba_and_2048(make):
    data = ok(make().execute(READ_CAPACITY, data_in_length=8))
    assert struct.unpack(">II", data) == (SECTORS - 1, 2048)


def test_read_toc_format_0_lba_has_data_track_1_and_lead_out_at_capacity(make):
    data = ok(make().execute(bytes.fromhex("43 00 00 00 00 00 00 03 24 00"), data_in_length=804))
    assert data == bytes.fromhex("00 12 01 01" "00 14 01 00 00 00 00 00" "00 14 aa 00 00 00 00 c8")


def test_read_toc_format_0_msf_adds_150_frames(make):
    data = ok(make().execute(bytes.fromhex("43 02 00 00 00 00 00 03 24 00"), data_in_length=804))
    # track 1 at 00:02:00; lead-out at LBA 200 = frame 350 = 00:04:50 (binary, not BCD)
    assert data == bytes.fromhex("00 12 01 01" "00 14 01 00 00 00 02 00" "00 14 aa 00 00 00 04 32")


def test_read_toc_format_1_is_one_session_starting_at_track_1(make):
    data = ok(make().execute(bytes.fromhex("43 00 01 00 00 00 00 00 0c 00"), data_in_length=12))
    assert data == bytes.fromhex("00 0a 01 01 00 14 01 00 00 00 00 00")


def test_read_toc_format_2_full_toc_has_points_a0_a1_a2_and_track_1(make):
    data = ok(make().execute(bytes.fromhex("43 02 02 00 00 00 00 03 24 00"), data_in_length=804))
    assert data[:4] == bytes.fromhex("00 2e 01 01")
    points = {data[i + 3]: data[i:i + 11] for i in range(4, len(data), 11)}
    assert set(points) == {0xA0, 0xA1, 0xA2, 0x01}
    assert points[0xA0][8] == 1 and points[0xA1][8] == 1
    assert points[0xA2][8:11] == bytes([0, 4, 50]) and points[0x01][8:11] == bytes([0, 2, 0])


def test_read_toc_old_style_format_in_byte_9(make):
    data = ok(make().execute(bytes.fromhex("43 00 00 00 00 00 00 00 0c 40"), data_in_length=12))
    assert data == bytes.fromhex("00 0a 01 01 00 14 01 00 00 00 00 00")


def test_read_disc_information_is_complete_one_session_cd_rom(make):
    data = ok(make().execute(bytes.fromhex("51 00 00 00 00 00 00 00 22 00"), data_in_length=34))
    assert len(data) == 34 and data[:2] == b"\x00\x20"
    assert data[2] & 0x03 == 2 and (data[2] >> 2) & 0x03 == 3
    assert (data[3], data[4], data[5], data[6], data[8]) == (1, 1, 1, 1, 0x00)


def test_read_track_information_track_1_starts_at_0_and_spans_the_disc(make):
    data = ok(make().execute(bytes.fromhex("52 01 00 00 00 01 00 00 30 00"), data_in_length=48))
    assert data[2] == 1 and data[3] == 1 and data[5] & 0x0F == 4
    assert struct.unpack_from(">I", data, 8)[0] == 0 and struct.unpack_from(">I", data, 24)[0] == SECTORS


def test_read_track_information_of_track_2_is_invalid_field(make):
    assert sense_of(make().execute(bytes.fromhex("52 01 00 00 00 02 00 00 30 00"), data_in_length=48)) == "05/24/00"


def test_get_configuration_all_features_cd(make):
    drive = make('[drive]\nserial = "SIM-9"\n')
    data = ok(drive.execute(bytes.fromhex("46 00 00 00 00 00 00 10 00 00"), data_in_length=4096))
    assert struct.unpack_from(">I", data, 0)[0] == len(data) - 4
    assert data[6:8] == b"\x00\x08"
    assert data[8:16] == bytes.fromhex("00 00 03 04 00 08 01 00")    # profile list: CD-ROM, current
    codes, at = [], 8
    while at < len(data):
        codes.append(struct.unpack_from(">H", data, at)[0])
        at += 4 + data[at + 3]
    assert codes == [0x0000, 0x0001, 0x001E, 0x0108]


def test_get_configuration_rt_2_gives_the_one_feature_asked_for(make):
    drive = make('[drive]\nserial = "SIM-9"\n')
    data = ok(drive.execute(bytes.fromhex("46 02 01 08 00 00 00 10 00 00"), data_in_length=4096))
    assert data[8:10] == b"\x01\x08" and data[12:17] == b"SIM-9" and len(data) == 8 + 4 + 8


def test_get_configuration_truncates_to_the_allocation_length_but_reports_the_full_length(make):
    data = ok(make().execute(bytes.fromhex("46 00 00 00 00 00 00 00 08 00"), data_in_length=4096))
    assert len(data) == 8 and struct.unpack_from(">I", data, 0)[0] > 4


def test_get_configuration_bd_current_profile_and_bd_read_feature(make):
    drive = make(disc='[disc]\nprofile = "bd-rom"\nsectors = 1000\n')
    data = ok(drive.execute(bytes.fromhex("46 01 00 00 00 00 00 10 00 00"), data_in_length=4096))
    assert data[6:8] == b"\x00\x40"
    codes, at = {}, 8
    while at < len(data):
        codes[struct.unpack_from(">H", data, at)[0]] = data[at + 2] & 0x01
        at += 4 + data[at + 3]
    assert codes == {0x0000: 1, 0x0001: 1, 0x0040: 1}                # RT 1: current features only


def test_get_event_status_reports_media_present(make):
    data = ok(make().execute(GESN_MEDIA, data_in_length=8))
    assert data == bytes.fromhex("00 06 04 10 00 02 00 00")


def test_mode_sense_page_01_has_read_retry_count_32(make):
    data = ok(make().execute(bytes.fromhex("5a 00 01 00 00 00 00 00 14 00"), data_in_length=20))
    assert data[:8] == bytes.fromhex("00 12 00 00 00 00 00 00")
    assert data[8:10] == b"\x01\x0a" and data[11] == 32


def test_mode_sense_page_01_changeable_mask_allows_retry_count_and_per(make):
    data = ok(make().execute(bytes.fromhex("5a 00 41 00 00 00 00 00 14 00"), data_in_length=20))
    assert data[11] == 0xFF and data[10] & 0x04 and data[10] & 0x01 and data[16] == 0


def test_mode_sense_page_2a_reports_cd_reads_c2_and_24x(make):
    data = ok(make().execute(bytes.fromhex("5a 00 2a 00 00 00 00 00 20 00"), data_in_length=32))
    page = data[8:]
    assert page[:2] == b"\x2a\x14" and page[2] & 0x03 and page[5] & 0x10
    assert struct.unpack_from(">H", page, 8)[0] == 24 * 176


def test_mode_sense_saved_values_are_not_supported(make):
    assert sense_of(make().execute(bytes.fromhex("5a 00 c1 00 00 00 00 00 14 00"), data_in_length=20)) == "05/39/00"


def test_mode_select_changes_retry_count_and_per_within_the_mask(make):
    drive = make()
    page = bytes.fromhex("00 00 00 00 00 00 00 00" "01 0a 04 01 00 00 00 00 00 00 00 00")
    ok(drive.execute(bytes.fromhex("55 10 00 00 00 00 00 00 14 00"), data_out=page))
    data = ok(drive.execute(bytes.fromhex("5a 00 01 00 00 00 00 00 14 00"), data_in_length=20))
    assert data[10] == 0x04 and data[11] == 1


def test_mode_select_outside_the_mask_is_invalid_field_in_parameter_list(make):
    drive = make()
    page = bytes.fromhex("00 00 00 00 00 00 00 00" "01 0a 00 20 00 00 00 00 05 00 00 00")  # write retry 5
    assert sense_of(drive.execute(bytes.fromhex("55 10 00 00 00 00 00 00 14 00"), data_out=page)) == "05/26/00"
    data = ok(drive.execute(bytes.fromhex("5a 00 01 00 00 00 00 00 14 00"), data_in_length=20))
    assert data[16] == 0


def test_mode_select_with_save_pages_is_invalid_field_in_cdb(make):
    page = bytes.fromhex("00 00 00 00 00 00 00 00" "01 0a 00 20 00 00 00 00 00 00 00 00")
    assert sense_of(make().execute(bytes.fromhex("55 11 00 00 00 00 00 00 14 00"), data_out=page)) == "05/24/00"


def test_get_performance_gives_one_descriptor_at_top_speed(make):
    data = ok(make().execute(bytes.fromhex("ac 00 00 00 00 00 00 00 00 01 00 00"), data_in_length=24))
    assert struct.unpack(">I4xIIII", data) == (20, 0, 4224, SECTORS - 1, 4224)


def test_read_disc_structure_dvd_physical_format(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 1000\n')
    data = ok(drive.execute(bytes.fromhex("ad 00 00 00 00 00 00 00 08 04 00 00"), data_in_length=2052))
    assert data[:2] == b"\x08\x02" and len(data) == 2052
    layer = data[4:]
    assert layer[0] >> 4 == 0 and layer[1] >> 4 == 0 and (layer[2] >> 5) & 0x03 == 0
    assert struct.unpack_from(">II", layer, 4) == (0x030000, 0x030000 + 1000 - 1)


def test_read_disc_structure_dvd_copyright_says_no_protection(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 1000\n')
    data = ok(drive.execute(bytes.fromhex("ad 00 00 00 00 00 00 01 00 08 00 00"), data_in_length=8))
    assert data == bytes.fromhex("00 06 00 00 00 00 00 00")


def test_read_disc_structure_on_a_cd_is_invalid_field(make):
    assert sense_of(make().execute(bytes.fromhex("ad 00 00 00 00 00 00 00 08 04 00 00"),
                                   data_in_length=2052)) == "05/24/00"


def test_read_toc_format_2_on_a_dvd_is_invalid_field_but_format_0_fabricates_a_track(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 1000\n')
    assert sense_of(drive.execute(bytes.fromhex("43 02 02 00 00 00 00 03 24 00"), data_in_length=804)) == "05/24/00"
    data = ok(drive.execute(bytes.fromhex("43 00 00 00 00 00 00 03 24 00"), data_in_length=804))
    assert data == bytes.fromhex("00 12 01 01" "00 14 01 00 00 00 00 00" "00 14 aa 00 00 00 03 e8")


def test_prevent_then_eject_is_refused_until_allowed(make):
    drive = make()
    ok(drive.execute(bytes.fromhex("1e 00 00 00 01 00")))
    assert sense_of(drive.execute(bytes.fromhex("1b 00 00 00 02 00"))) == "05/53/02"
    ok(drive.execute(bytes.fromhex("1e 00 00 00 00 00")))
    ok(drive.execute(bytes.fromhex("1b 00 00 00 01 00")))


# -- reads ---------------------------------------------------------------------------------------

def test_read10_returns_the_image_bytes(make):
    drive = make()
    data = ok(drive.execute(bytes.fromhex("28 00 00 00 00 10 00 00 02 00"), data_in_length=4096))
    assert data == image_bytes()[16 * 2048:18 * 2048] == drive.expected_sector(16) + drive.expected_sector(17)


def test_read12_returns_the_image_bytes(make):
    data = ok(make().execute(bytes.fromhex("a8 00 00 00 00 20 00 00 00 03 00 00"), data_in_length=3 * 2048))
    assert data == image_bytes()[32 * 2048:35 * 2048]


def test_read_past_capacity_is_lba_out_of_range(make):
    drive = make()
    assert sense_of(drive.execute(bytes.fromhex("28 00 00 00 00 c7 00 00 02 00"), data_in_length=4096)) == "05/21/00"
    ok(drive.execute(bytes.fromhex("28 00 00 00 00 c7 00 00 01 00"), data_in_length=2048))


def test_read_cd_user_data_is_2048_bytes_a_sector(make):
    drive = make()
    data = ok(drive.execute(bytes.fromhex("be 08 00 00 00 05 00 00 02 10 00 00"), data_in_length=4096))
    assert data == image_bytes()[5 * 2048:7 * 2048]


def test_read_cd_raw_has_sync_bcd_header_user_data_and_zero_edc_ecc(make):
    drive = make()
    data = ok(drive.execute(bytes.fromhex("be 00 00 00 00 64 00 00 01 f8 00 00"), data_in_length=2352))
    # LBA 100 = frame 250 = 00:03:25 -> BCD 00 03 25, mode 1
    assert len(data) == 2352 and data[:12] == bytes.fromhex("00 ff ff ff ff ff ff ff ff ff ff 00")
    assert data[12:16] == bytes.fromhex("00 03 25 01")
    assert data[16:2064] == drive.expected_sector(100) and data[2064:] == bytes(288)


def test_read_cd_raw_with_c2_appends_294_zero_bytes_for_a_good_sector(make):
    data = ok(make().execute(bytes.fromhex("be 00 00 00 00 64 00 00 01 fa 00 00"), data_in_length=2646))
    assert len(data) == 2646 and data[2352:] == bytes(294)


def test_read_cd_of_cd_da_sectors_is_illegal_mode_for_this_track(make):
    assert sense_of(make().execute(bytes.fromhex("be 04 00 00 00 00 00 00 01 f8 00 00"),
                                   data_in_length=2352)) == "05/64/00"


def test_read_cd_on_a_dvd_is_illegal_mode_for_this_track(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 1000\n')
    assert sense_of(drive.execute(bytes.fromhex("be 00 00 00 00 00 00 00 01 10 00 00"),
                                  data_in_length=2048)) == "05/64/00"


# -- damage --------------------------------------------------------------------------------------

def test_unreadable_fails_the_whole_read_with_the_first_bad_lba_in_information(make):
    drive = make('[[damage]]\nlbas = "100-103, 110"\nkind = "unreadable"\n')
    done = drive.execute(bytes.fromhex("28 00 00 00 00 60 00 00 10 00"), data_in_length=16 * 2048)
    assert sense_of(done) == "03/11/00" and information(done) == 100 and done.sense[0] == 0xF0
    ok(drive.execute(bytes.fromhex("28 00 00 00 00 68 00 00 06 00"), data_in_length=6 * 2048))
    done = drive.execute(bytes.fromhex("28 00 00 00 00 6a 00 00 08 00"), data_in_length=8 * 2048)
    assert information(done) == 110


def test_unreadable_with_a_chosen_sense(make):
    drive = make('[[damage]]\nlbas = "50"\nkind = "unreadable"\nsense = "03/11/05"\n')
    done = drive.execute(bytes.fromhex("28 00 00 00 00 32 00 00 01 00"), data_in_length=2048)
    assert sense_of(done) == "03/11/05" and information(done) == 50


def test_report_information_false_leaves_valid_and_information_unset(make):
    drive = make('[drive]\nreport_information = false\n[[damage]]\nlbas = "50"\nkind = "unreadable"\n')
    done = drive.execute(bytes.fromhex("28 00 00 00 00 30 00 00 04 00"), data_in_length=4 * 2048)
    assert sense_of(done) == "03/11/00" and done.sense[0] == 0x70 and done.sense[3:7] == bytes(4)


def test_flaky_fails_exactly_failures_times_then_reads_true_bytes(make):
    drive = make('[[damage]]\nlbas = "40"\nkind = "flaky"\nfailures = 2\nsense = "03/02/00"\n')
    cdb = bytes.fromhex("28 00 00 00 00 28 00 00 01 00")
    for _ in range(2):
        done = drive.execute(cdb, data_in_length=2048)
        assert sense_of(done) == "03/02/00" and information(done) == 40
    assert ok(drive.execute(cdb, data_in_length=2048)) == drive.expected_sector(40)
    assert ok(drive.execute(cdb, data_in_length=2048)) == drive.expected_sector(40)


def test_flaky_defaults_to_one_failure(make):
    drive = make('[[damage]]\nlbas = "40"\nkind = "flaky"\n')
    cdb = bytes.fromhex("28 00 00 00 00 28 00 00 01 00")
    assert sense_of(drive.execute(cdb, data_in_length=2048)) == "03/11/00"
    ok(drive.execute(cdb, data_in_length=2048))


def test_a_flaky_sector_counts_an_attempt_only_from_the_reads_that_reach_it(make):
    # the drive ends a READ at the first sector it cannot read: the sectors after it were never read
    drive = make('[[damage]]\nlbas = "40"\nkind = "flaky"\nfailures = 2\nsense = "03/02/00"\n'
                 '[[damage]]\nlbas = "38"\nkind = "unreadable"\n'
                 '[[damage]]\nlbas = "44"\nkind = "unreadable"\n')
    both = bytes.fromhex("28 00 00 00 00 26 00 00 03 00")           # 38..40: ends at 38
    for _ in range(3):
        done = drive.execute(both, data_in_length=3 * 2048)
        assert information(done) == 38 and sense_of(done) == "03/11/00"   # the first failing LBA wins
    through = bytes.fromhex("28 00 00 00 00 28 00 00 05 00")        # 40..44: reaches 40, and 44 when 40 reads
    for sense in ("03/02/00", "03/02/00", "03/11/00"):
        done = drive.execute(through, data_in_length=5 * 2048)
        assert sense_of(done) == sense and information(done) == (44 if sense == "03/11/00" else 40)
    ok(drive.execute(bytes.fromhex("28 00 00 00 00 28 00 00 01 00"), data_in_length=2048))


@pytest.mark.parametrize("profile, unit", [("dvd-rom", 16), ("bd-rom", 32)])
def test_a_dvd_or_bd_read_reaches_every_flaky_sector_of_the_ecc_blocks_it_reached(make, profile, unit):
    # the drive decodes whole ECC blocks (DVD 16 sectors, BD 32): a READ that fails at a block's
    # first flaky sector has read the rest of the block too, one of a single sector its whole block;
    # the block after the failing one is not reached
    drive = make(f'[[damage]]\nlbas = "{unit}-{2 * unit}"\nkind = "flaky"\nfailures = 2\n'
                 f'[[damage]]\nlbas = "{3 * unit}-{4 * unit - 1}"\nkind = "flaky"\nfailures = 1\n',
                 disc=f'[disc]\nprofile = "{profile}"\nsectors = 1000\n')

    def read10(lba, count):
        return bytes.fromhex("28 00") + lba.to_bytes(4, "big") + b"\0" + count.to_bytes(2, "big") + b"\0"

    for _ in range(2):           # block 1 and the first sector of block 2: fails at the block's first
        assert information(drive.execute(read10(unit, unit + 1), data_in_length=(unit + 1) * 2048)) == unit
    # every sector of block 1 has failed twice; block 2's first was never reached
    assert information(drive.execute(read10(unit, unit + 1), data_in_length=(unit + 1) * 2048)) == 2 * unit
    assert information(drive.execute(read10(2 * unit, 1), data_in_length=2048)) == 2 * unit
    ok(drive.execute(read10(2 * unit, 1), data_in_length=2048))
    assert information(drive.execute(read10(3 * unit, 1), data_in_length=2048)) == 3 * unit
    ok(drive.execute(read10(3 * unit + 5, 1), data_in_length=2048))     # its block was read with LBA 3u


def test_the_first_failing_sector_gives_the_sense(make):
    drive = make('[[damage]]\nlbas = "40"\nkind = "flaky"\nsense = "03/02/00"\n'
                 '[[damage]]\nlbas = "42"\nkind = "unreadable"\n')
    done = drive.execute(bytes.fromhex("28 00 00 00 00 28 00 00 03 00"), data_in_length=3 * 2048)
    assert information(done) == 40 and sense_of(done) == "03/02/00"


def test_slow_sectors_read_correctly_and_charge_their_delay_each(make):
    drive = make('[[damage]]\nlbas = "10-11"\nkind = "slow"\ndelay_s = 2.5\n')
    done = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 0c 00"), data_in_length=12 * 2048)
    assert ok(done) == image_bytes()[:12 * 2048]
    assert done.duration_s == pytest.approx(OVERHEAD + 12 * 2048 / CD_RATE_24X + 5.0)


def test_unstable_sectors_never_read_true_and_differ_each_time(make):
    drive = make('[[damage]]\nlbas = "21"\nkind = "unstable"\n')
    cdb = bytes.fromhex("28 00 00 00 00 14 00 00 03 00")              # 20..22
    reads = [ok(drive.execute(cdb, data_in_length=3 * 2048)) for _ in range(5)]
    middles = {r[2048:4096] for r in reads}
    assert len(middles) == 5 and drive.expected_sector(21) not in middles
    assert all(r[:2048] == drive.expected_sector(20) and r[4096:] == drive.expected_sector(22) for r in reads)


def test_unstable_sector_flags_c2_errors_in_read_cd(make):
    drive = make('[[damage]]\nlbas = "21"\nkind = "unstable"\n')
    data = ok(drive.execute(bytes.fromhex("be 00 00 00 00 15 00 00 01 fa 00 00"), data_in_length=2646))
    assert data[2352:] == b"\xff" * 294 and data[16:2064] != drive.expected_sector(21)


def test_damage_map_lookup_matches_a_naive_set():
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20)), max_size=8),
           st.integers(0, 330), st.integers(0, 40))
    def check(spans, lba, count):
        taken, entries = set(), []
        for n, (first, width) in enumerate(spans, 1):
            sectors = set(range(first, first + width + 1))
            if sectors & taken:
                continue
            taken |= sectors
            entries.append(Damage(n, ((first, first + width),), "unreadable"))
        hit = DamageMap(tuple(entries)).touched(lba, count)
        found = {s for first, last, _ in hit for s in range(first, last + 1)}
        assert found == taken & set(range(lba, lba + count))
        assert [h[0] for h in hit] == sorted(h[0] for h in hit)

    check()


# -- events --------------------------------------------------------------------------------------

def test_disconnect_raises_drive_gone_after_n_commands_and_ever_after(make):
    drive = make('[[event]]\nafter_commands = 3\nkind = "disconnect"\n')
    for _ in range(3):
        ok(drive.execute(TEST_UNIT_READY))
    for _ in range(2):
        with pytest.raises(DriveGone) as gone:
            drive.execute(TEST_UNIT_READY)
        assert "stopped answering (simulated disconnect)" in str(gone.value)
        assert gone.value.hint == "reconnect it and run the same command to resume"


def test_media_change_gives_one_unit_attention_and_one_media_event(make):
    drive = make('[[event]]\nafter_commands = 2\nkind = "media-change"\n')
    ok(drive.execute(TEST_UNIT_READY))
    ok(drive.execute(TEST_UNIT_READY))
    assert sense_of(drive.execute(TEST_UNIT_READY)) == "06/28/00"
    ok(drive.execute(TEST_UNIT_READY))
    assert ok(drive.execute(GESN_MEDIA, data_in_length=8))[4] & 0x0F == 4
    assert ok(drive.execute(GESN_MEDIA, data_in_length=8))[4] & 0x0F == 0


def test_not_ready_answers_the_next_count_commands_becoming_ready(make):
    drive = make('[[event]]\nafter_commands = 1\nkind = "not-ready"\ncount = 2\n')
    ok(drive.execute(TEST_UNIT_READY))
    assert sense_of(drive.execute(READ_CAPACITY, data_in_length=8)) == "02/04/01"
    ok(drive.execute(bytes.fromhex("12 00 00 00 24 00"), data_in_length=36))   # INQUIRY still answers
    assert sense_of(drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 01 00"), data_in_length=2048)) == "02/04/01"
    ok(drive.execute(READ_CAPACITY, data_in_length=8))
    assert drive.commands == 5


def test_not_ready_defaults_to_three_commands(make):
    drive = make('[[event]]\nafter_commands = 0\nkind = "not-ready"\n')
    assert [sense_of(drive.execute(TEST_UNIT_READY)) for _ in range(3)] == ["02/04/01"] * 3
    ok(drive.execute(TEST_UNIT_READY))


# -- the clock -----------------------------------------------------------------------------------

def transfer(count: int, speed_x: float = 24, rate: int = 153_600) -> float:
    return count * 2048 / (speed_x * rate)


def test_clock_sequential_reads_pay_no_seek(make):
    drive = make()
    first = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 0a 00"), data_in_length=10 * 2048)
    second = drive.execute(bytes.fromhex("28 00 00 00 00 0a 00 00 0a 00"), data_in_length=10 * 2048)
    assert first.duration_s == pytest.approx(OVERHEAD + transfer(10))
    assert second.duration_s == pytest.approx(OVERHEAD + transfer(10))
    assert drive.clock_s == pytest.approx(first.duration_s + second.duration_s)


def test_clock_short_forward_gap_costs_its_transfer_time(make):
    drive = make()
    drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 0a 00"), data_in_length=10 * 2048)
    done = drive.execute(bytes.fromhex("28 00 00 00 00 14 00 00 0a 00"), data_in_length=10 * 2048)   # gap 10
    assert done.duration_s == pytest.approx(OVERHEAD + transfer(10) + transfer(10))


def test_clock_long_forward_gap_costs_a_seek(make):
    drive = make()
    # 150 sectors take 0.0833 s to spin past at 24x: more than seek_base_s, so it is a seek
    done = drive.execute(bytes.fromhex("28 00 00 00 00 96 00 00 01 00"), data_in_length=2048)
    assert done.duration_s == pytest.approx(OVERHEAD + SEEK_BASE + SEEK_FULL * 150 / SECTORS + transfer(1))


def test_clock_backward_jump_costs_a_seek(make):
    drive = make()
    drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 14 00"), data_in_length=20 * 2048)
    done = drive.execute(bytes.fromhex("28 00 00 00 00 05 00 00 01 00"), data_in_length=2048)
    assert done.duration_s == pytest.approx(OVERHEAD + SEEK_BASE + SEEK_FULL * 15 / SECTORS + transfer(1))


def test_clock_failed_read_costs_error_delay_and_the_next_read_a_half_stroke(make):
    drive = make('[[damage]]\nlbas = "5"\nkind = "unreadable"\n')
    failed = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 08 00"), data_in_length=8 * 2048)
    assert failed.duration_s == pytest.approx(OVERHEAD + transfer(8) + ERROR_DELAY)
    after = drive.execute(bytes.fromhex("28 00 00 00 00 06 00 00 02 00"), data_in_length=2 * 2048)
    assert after.duration_s == pytest.approx(OVERHEAD + SEEK_BASE + SEEK_FULL / 2 + transfer(2))
    assert drive.clock_s == pytest.approx(failed.duration_s + after.duration_s)


def test_clock_uses_the_speed_set_by_set_cd_speed_at_most_speed_x(make):
    drive = make()
    ok(drive.execute(bytes.fromhex("bb 00 02 c0 ff ff 00 00 00 00 00 00")))        # 704 kB/s = 4x
    done = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 04 00"), data_in_length=4 * 2048)
    assert done.duration_s == pytest.approx(OVERHEAD + transfer(4, 4))
    ok(drive.execute(bytes.fromhex("bb 00 20 00 ff ff 00 00 00 00 00 00")))        # 8192 kB/s > 24x
    assert drive.speed_x == 24
    ok(drive.execute(bytes.fromhex("bb 00 02 c0 ff ff 00 00 00 00 00 00")))
    ok(drive.execute(bytes.fromhex("bb 00 ff ff ff ff 00 00 00 00 00 00")))        # FFFFh: maximum
    assert drive.speed_x == 24


def test_set_streaming_sets_the_dvd_speed_and_rdd_restores_it(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 100000\n', timing="[timing]\nspeed_x = 8.5\n")
    cdb = bytes.fromhex("b6 00 00 00 00 00 00 00 00 00 1c 00")
    two_x = bytes.fromhex("00 00 00 00" "00 00 00 00" "00 01 86 9f" "00 00 0a d2" "00 00 03 e8" + "00" * 8)
    ok(drive.execute(cdb, data_out=two_x))                                         # 2770 kB / 1000 ms
    assert drive.speed_x == 2
    done = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 10 00"), data_in_length=16 * 2048)
    assert done.duration_s == pytest.approx(0.0005 + transfer(16, 2, 1_385_000))
    ok(drive.execute(cdb, data_out=bytes([0x04]) + bytes(27)))
    assert drive.speed_x == 8.5


def test_generated_dvd_reads_at_the_default_8x(make):
    drive = make(disc='[disc]\nprofile = "dvd-rom"\nsectors = 2295104\n', timing="")
    done = drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 20 00"), data_in_length=32 * 2048)
    assert ok(done) == b"".join(generated_sector(n) for n in range(32))
    assert done.duration_s == pytest.approx(0.0005 + transfer(32, 8, 1_385_000))


# -- trace ---------------------------------------------------------------------------------------

def test_trace_has_one_line_per_read_and_speed_changes_appended(make, tmp_path):
    text = ('[drive]\ntrace = "logs/reads.log"\n[[damage]]\nlbas = "100"\nkind = "unreadable"\n'
            '[[damage]]\nlbas = "7"\nkind = "flaky"\nsense = "03/02/00"\n')
    drive = make(text)
    drive.execute(bytes.fromhex("28 00 00 00 00 00 00 00 04 00"), data_in_length=4 * 2048)
    drive.execute(bytes.fromhex("28 00 00 00 00 62 00 00 04 00"), data_in_length=4 * 2048)
    drive.execute(bytes.fromhex("bb 00 02 c0 ff ff 00 00 00 00 00 00"))
    drive.execute(bytes.fromhex("be 08 00 00 00 06 00 00 02 10 00 00"), data_in_length=2 * 2048)
    drive.execute(TEST_UNIT_READY)
    drive.execute(bytes.fromhex("a8 00 00 00 00 c7 00 00 00 02 00 00"), data_in_length=4096)
    log = tmp_path / "logs" / "reads.log"
    assert log.read_text().splitlines() == ["0 4 ok", "98 4 err 03/11/00", "speed 4", "6 2 err 03/02/00",
                                            "199 2 err 05/21/00"]
    drive.close()
    again = make(text, name="q.toml")
    again.execute(bytes.fromhex("28 00 00 00 00 0a 00 00 02 00"), data_in_length=2 * 2048)
    assert log.read_text().splitlines()[-2:] == ["199 2 err 05/21/00", "10 2 ok"]


# -- generated content ---------------------------------------------------------------------------

def test_generated_sectors_are_distinct_deterministic_fast_and_not_descriptors():
    start = time.perf_counter()
    sectors = [generated_sector(n) for n in range(20000)]
    assert time.perf_counter() - start < 0.5
    assert len(set(sectors)) == 20000 and all(len(s) == 2048 for s in sectors[:10])
    assert generated_sector(16)[1:6] != b"CD001" and generated_sector(12219391) == generated_sector(12219391)
    assert generated_sectors(19_990, 10) == b"".join(sectors[19_990:])     # a READ's worth, the same bytes


def test_bd_generated_profile_reads_its_last_sector(make):
    drive = make(disc='[disc]\nprofile = "bd-rom"\nsectors = 12219392\n', timing="")
    assert struct.unpack(">II", ok(drive.execute(READ_CAPACITY, data_in_length=8))) == (12219391, 2048)
    data = ok(drive.execute(bytes.fromhex("28 00 00 ba 73 ff 00 00 01 00"), data_in_length=2048))
    assert data == generated_sector(12219391) == drive.expected_sector(12219391)


# -- profiles -------------------------------------------------------------------------------------

def test_a_missing_profile_is_one_clear_line(tmp_path):
    with pytest.raises(ProfileError) as err:
        SimulatedDrive.from_profile(tmp_path / "nope.toml")
    assert "nope.toml: no such profile" in str(err.value) and "\n" not in str(err.value)


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[disc]\nprofile = "cd-rom"\nsectors = = 5\n')
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "\n" not in message


@pytest.mark.parametrize("text, expected", [
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\ncolour = "red"\n', "[disc] has unknown key 'colour'"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[tray]\n', "top level has unknown key 'tray'"),
    ('[disc]\nprofile = "hd-dvd"\nsectors = 10\n', "[disc] profile 'hd-dvd' is unknown"),
    ('[disc]\nprofile = "cd-rom"\n', "[disc] needs exactly one of image and sectors"),
    ('[disc]\nsectors = 10\n', "[disc] profile is missing"),
    ('[disc]\nprofile = "cd-rom"\nsectors = "ten"\n', "[disc] sectors must be an integer"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[timing]\nspeed_x = "fast"\n', "[timing] speed_x must be a number"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[drive]\nreport_information = 1\n',
     "[drive] report_information must be true or false"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[drive]\nvendor = "TOO LONG VENDOR"\n', "[drive] vendor must be"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "5-2"\nkind = "unreadable"\n',
     "[[damage]] #1 lbas '5-2': range 5-2 runs backwards"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "3, x"\nkind = "unreadable"\n',
     "[[damage]] #1 lbas '3, x': 'x' is not N or N-M"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "8-10"\nkind = "unreadable"\n',
     "LBA 10 is past the disc's last LBA 9"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1"\nkind = "scratched"\n',
     "[[damage]] #1 kind 'scratched' is unknown"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1-4"\nkind = "unreadable"\n'
     '[[damage]]\nlbas = "4"\nkind = "flaky"\n', "[[damage]] #1 and #2 overlap at LBA 4-4"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1"\nkind = "slow"\n',
     "[[damage]] #1 slow damage needs delay_s"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1"\nkind = "unreadable"\nfailures = 2\n',
     "[[damage]] #1 failures applies to flaky damage only"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1"\nkind = "flaky"\nsense = "3/11"\n',
     "[[damage]] #1 sense '3/11' is not SK/ASC/ASCQ"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[event]]\nafter_commands = 5\nkind = "explode"\n',
     "[[event]] #1 kind 'explode' is unknown"),
    ('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[event]]\nkind = "disconnect"\n', "[[event]] #1 has no after_commands"),
])
def test_profile_mistakes_are_one_line_naming_the_key(tmp_path, text, expected):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and expected in str(err.value) and "\n" not in str(err.value)


def test_a_missing_image_hints_at_the_fixture_script(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[disc]\nprofile = "cd-rom"\nimage = "out/none.iso"\n')
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "does not exist" in err.value.message and "python fixtures/make_fixtures.py" in err.value.hint


def test_an_image_that_is_not_whole_sectors_is_refused(tmp_path):
    (tmp_path / "odd.iso").write_bytes(bytes(3000))
    path = tmp_path / "p.toml"
    path.write_text('[disc]\nprofile = "cd-rom"\nimage = "odd.iso"\n')
    with pytest.raises(ProfileError, match="3000 bytes, not a positive multiple of 2048"):
        load_profile(path)


def test_speed_x_may_be_a_float_and_lbas_may_be_an_integer(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[disc]\nprofile = "bd-rom"\nsectors = 100\n[timing]\nspeed_x = 2.5\n'
                    '[[damage]]\nlbas = 7\nkind = "unreadable"\n')
    profile = load_profile(path)
    assert profile.speed_x == 2.5 and profile.damage[0].ranges == ((7, 7),)


def test_huge_damage_ranges_are_kept_as_ranges(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[disc]\nprofile = "bd-rom"\nsectors = 12219392\n'
                    '[[damage]]\nlbas = "0-3000000"\nkind = "slow"\ndelay_s = 0.001\n')
    drive = SimulatedDrive.from_profile(path)
    # LBA 2999999 and 3000000: both slow; 3000001 and 3000002: neither
    done = drive.execute(bytes.fromhex("28 00 00 2d c6 bf 00 00 02 00"), data_in_length=4096)
    assert ok(done) and done.duration_s == pytest.approx(0.0005 + transfer(2, 6, 4_495_500) + 0.002
                                                         + 0.08 + 0.12 * 2_999_999 / 12_219_392)
    done = drive.execute(bytes.fromhex("28 00 00 2d c6 c1 00 00 02 00"), data_in_length=4096)
    assert done.duration_s == pytest.approx(0.0005 + transfer(2, 6, 4_495_500))
    drive.close()


# -- the fixtures ---------------------------------------------------------------------------------

def test_clean_fixture_has_an_iso_9660_label_at_lba_16(fixtures_made):
    with SimulatedDrive.from_profile(FIXTURES / "clean.toml") as drive:
        assert drive.capacity == 4000
        data = ok(drive.execute(bytes.fromhex("28 00 00 00 00 10 00 00 02 00"), data_in_length=4096))
    assert data[:7] == b"\x01CD001\x01" and data[40:52] == b"ACQUIRE_TEST"
    assert data[2048:2055] == b"\xffCD001\x01"


def test_damaged_fixture_has_each_kind_of_damage(fixtures_made):
    profile = load_profile(FIXTURES / "damaged.toml")
    assert {d.kind for d in profile.damage} == {"unreadable", "flaky", "slow", "unstable"}
    assert profile.trace == FIXTURES / "out" / "damaged.reads.log"


def test_generated_fixtures_have_full_size_discs():
    assert load_profile(FIXTURES / "dvd-generated.toml").capacity == 2295104
    assert load_profile(FIXTURES / "bd-generated.toml").capacity == 12219392


# -- the simulator's own spelling -------------------------------------------------------------

def test_the_simulator_and_mmc_spell_every_opcode_alike():
    """The duplication is deliberate: sim/codes.py spells the opcodes again so that the simulated
    drive decodes CDBs without mmc and checks mmc instead of mirroring it (`duplicates` pairs the
    two tables). This test is what keeps the two spellings from drifting apart."""
    from acquire.drive import mmc
    from acquire.drive.sim import codes
    sim = {value for name, value in vars(codes).items() if name.isupper() and isinstance(value, int)
           and name != "SECTOR_BYTES"}
    assert sim == set(mmc.OPCODE_NAMES)
    names = [name for name, value in vars(codes).items() if name.isupper() and isinstance(value, int)
             and name != "SECTOR_BYTES"]
    assert {name: getattr(codes, name) for name in names} == {name: getattr(mmc, name) for name in names}
    assert set(codes.COMMANDS.values()) == set(mmc.OPCODE_NAMES)
    assert codes.SECTOR_BYTES == mmc.USER_DATA_BYTES


MODE2_TRACKS = """
[[track]]
number = 1
start = 0
[[track]]
number = 2
start = 40
mode = "mode2-form1"
"""


def test_read10_on_a_mode2_form1_track_is_illegal_mode_and_read_cd_reads_it(make):
    drive = make(MODE2_TRACKS)
    assert sense_of(drive.execute(read10(39, 2), data_in_length=4096)) == "05/64/00"
    assert ok(drive.execute(read10(39, 1), data_in_length=2048)) == drive.expected_sector(39)
    any_type = bytes.fromhex("be 00 00 00 00 27 00 00 02 10 00 00")          # sector type 0, LBA 39, 2
    assert ok(drive.execute(any_type, data_in_length=4096)) == drive.expected_sector(39) + drive.expected_sector(40)
    form1 = bytes.fromhex("be 10 00 00 00 28 00 00 01 10 00 00")             # type 4 (mode 2 form 1), LBA 40
    assert ok(drive.execute(form1, data_in_length=2048)) == drive.expected_sector(40)
    mode1 = bytes.fromhex("be 08 00 00 00 28 00 00 01 10 00 00")             # type 2 (mode 1) on track 2
    assert sense_of(drive.execute(mode1, data_in_length=2048)) == "05/64/00"
    raw = ok(drive.execute(bytes.fromhex("be 10 00 00 00 28 00 00 01 f8 00 00"), data_in_length=2352))
    assert len(raw) == 2352 and raw[15] == 0x02 and raw[16:24] == bytes([0, 0, 8, 0]) * 2


def test_tracks_show_in_the_toc_and_in_track_information(make):
    drive = make(MODE2_TRACKS)
    toc = ok(drive.execute(bytes.fromhex("43 00 00 00 00 00 00 00 ff 00"), data_in_length=255))
    assert toc[2:4] == bytes([1, 2]) and [toc[6], toc[14], toc[22]] == [1, 2, 0xAA]
    assert toc[16:20] == (40).to_bytes(4, "big")
    info = ok(drive.execute(bytes.fromhex("52 01 00 00 00 02 00 00 30 00"), data_in_length=48))
    assert (info[2], info[6], info[8:12], info[24:28]) == (2, 0x02, (40).to_bytes(4, "big"),
                                                           (drive.capacity - 40).to_bytes(4, "big"))


@pytest.mark.parametrize("tracks,message", [
    ("[[track]]\nnumber = 1\nstart = 5\n", "the first track starts at 0"),
    ("[[track]]\nnumber = 2\nstart = 0\n", "number is 2, not 1"),
    ("[[track]]\nnumber = 1\nstart = 0\nmode = \"audio\"\n", "mode 'audio' is not modelled over a .disc. image"),
    ("[[track]]\nnumber = 1\nstart = 0\nimage = \"x.iso\"\n", "tracks that partition a .disc. image bring no image"),
])
def test_a_track_layout_the_simulator_cannot_model_is_refused(make, tracks, message):
    with pytest.raises(ProfileError, match=message):
        make(tracks)


# -- Drive.read over the simulated drive: what each sense Action makes a READ do ----------------

def _drive(tmp_path, text: str = ""):
    from acquire.drive.device import open_drive
    (tmp_path / "disc.iso").write_bytes(image_bytes())
    path = tmp_path / "drive.toml"
    path.write_text('[disc]\nprofile = "cd-rom"\nimage = "disc.iso"\n' + TIMING + text)
    return open_drive(f"sim:{path}")


def _trace(tmp_path) -> list[str]:
    return (tmp_path / "trace.log").read_text().splitlines()


TRACE = '[drive]\ntrace = "trace.log"\n'


def test_every_sense_action_has_a_handler_in_the_read_path():
    from acquire.drive.device import Drive
    from acquire.drive.sense import Action
    assert set(Drive._READ_ACTIONS) == set(Action)


def test_a_read_into_a_mode2_track_falls_back_to_read_cd_and_notes_it_once(tmp_path):
    drive = _drive(tmp_path, TRACE + MODE2_TRACKS)
    truth = SimulatedDrive.from_profile(tmp_path / "drive.toml")
    first, again = drive.read(40, 2), drive.read(42, 1)
    assert first.ok and first.data == truth.expected_sector(40) + truth.expected_sector(41)
    assert again.ok and drive.read(0, 1).ok
    assert drive.fallbacks == ["READ(10): 05/64/00 (ILLEGAL REQUEST: ILLEGAL MODE FOR THIS TRACK); "
                               "read with READ CD (user data)"]
    # READ(10) stays the first choice: only a refused command is given up for good
    assert _trace(tmp_path) == ["40 2 err 05/64/00", "40 2 ok", "42 1 err 05/64/00", "42 1 ok", "0 1 ok"]
    truth.close()
    drive.close()


def test_a_drive_that_refuses_read10_is_read_with_read_cd_from_then_on(tmp_path):
    drive = _drive(tmp_path, '[drive]\ntrace = "trace.log"\nunsupported = ["READ(10)"]\n')
    assert drive.read(16, 2).ok and drive.read(100, 1).ok
    assert drive.fallbacks == ["READ(10): 05/20/00 (ILLEGAL REQUEST: INVALID COMMAND OPERATION CODE); "
                               "READ CD (user data) from now on"]
    assert _trace(tmp_path) == ["16 2 err 05/20/00", "16 2 ok", "100 1 ok"]
    drive.close()


def test_a_read_past_the_capacity_stops_naming_the_lba_and_the_capacity(tmp_path):
    from acquire.errors import DriveError
    drive = _drive(tmp_path)
    drive.medium()
    with pytest.raises(DriveError, match=rf"LBA {SECTORS - 1}\+2 .*05/21/00.*capacity is {SECTORS} sectors"):
        drive.read(SECTORS - 1, 2)
    drive.close()


def test_out_of_range_inside_the_capacity_is_a_failed_read_as_qemu_ide_cd_reports_medium_errors(tmp_path):
    drive = _drive(tmp_path, '[drive]\nmedium_error_sense = "05/21/00"\n[[damage]]\nlbas = "20"\nkind = "unreadable"\n')
    result = drive.read(16, 8)          # the capacity is asked for on the spot: medium() never ran
    assert not result.ok and str(result.sense) == "05/21/00" and not result.protected
    drive.close()


def test_a_protected_sector_is_a_failed_read_marked_protected(tmp_path):
    drive = _drive(tmp_path, '[[damage]]\nlbas = "30"\nkind = "unreadable"\nsense = "05/6F/03"\n')
    result = drive.read(30, 1)
    assert (result.ok, result.protected, str(result.sense)) == (False, True, "05/6F/03")
    drive.close()


def test_an_aborted_read_is_sent_again_a_bounded_number_of_times(tmp_path):
    drive = _drive(tmp_path, TRACE + '[[damage]]\nlbas = "30"\nkind = "flaky"\nfailures = 2\nsense = "0B/00/06"\n'
                   '[[damage]]\nlbas = "50"\nkind = "flaky"\nfailures = 9\nsense = "0B/00/06"\n')
    assert drive.read(30, 1).ok
    stubborn = drive.read(50, 1)
    assert not stubborn.ok and str(stubborn.sense) == "0B/00/06"
    assert _trace(tmp_path) == ["30 1 err 0B/00/06"] * 2 + ["30 1 ok"] + ["50 1 err 0B/00/06"] * 4


def test_an_unknown_sense_is_a_failed_read_with_its_sense_recorded(tmp_path):
    drive = _drive(tmp_path, TRACE + '[[damage]]\nlbas = "30"\nkind = "unreadable"\nsense = "09/80/00"\n')
    result = drive.read(30, 1)
    assert (result.ok, str(result.sense), result.protected) == (False, "09/80/00", False)
    assert _trace(tmp_path) == ["30 1 err 09/80/00"]     # tried once, as a bad sector is this pass


def test_imaging_a_disc_that_is_becoming_ready_waits_on_the_simulated_clock_not_the_wall(tmp_path, monkeypatch):
    from acquire.imaging import ImageOptions, acquire_image

    def no_real_sleep(seconds):
        raise AssertionError(f"time.sleep({seconds}) under a simulated drive")

    monkeypatch.setattr(time, "sleep", no_real_sleep)
    (tmp_path / "disc.iso").write_bytes(image_bytes())
    profile = tmp_path / "ready.toml"
    profile.write_text('[disc]\nprofile = "cd-rom"\nimage = "disc.iso"\n' + TIMING
                       + '[[event]]\nafter_commands = 0\nkind = "not-ready"\ncount = 15\n'
                       + '[[event]]\nafter_commands = 34\nkind = "not-ready"\ncount = 5\n'   # after the setup commands (identity, medium, layout, structures, probe)
                       + '[drive]\ntrace = "trace.log"\n')
    started = time.monotonic()
    outcome = acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions())
    assert time.monotonic() - started < 10
    assert (tmp_path / "out.iso").read_bytes() == image_bytes()
    # the first spell passes in wait_ready, before the run's clock starts; the second (after the
    # setup commands: identity, medium, probe) mid-copy, on it
    trace = (tmp_path / "trace.log").read_text()
    assert trace.count("err 02/04/01") == 5 and outcome.elapsed_s >= 5 * 0.2
