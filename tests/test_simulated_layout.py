"""The simulated drive's discs laid out from [[track]]s: what READ TOC, READ TRACK INFORMATION,
READ DISC INFORMATION and READ CAPACITY answer, and how READs fail where nothing is recorded
(docs/simulated-drive.md "Discs laid out from tracks"). CDBs are written out in hex here, and the
answers read with acquire's own parsers: the two sides were written from the spec apart."""
from __future__ import annotations

import struct

import pytest

from acquire.drive import mmc
from acquire.drive.sim import SimulatedDrive, load_profile
from acquire.errors import ProfileError

h = bytes.fromhex

TWO_SESSIONS = """
[disc]
profile = "cd-r"
{disc}

[[track]]
number = 1
session = 1
start = 0
sectors = 1000
write = "tao"

[[track]]
number = 2
session = 2
start = 12402
sectors = 500
write = "tao"
{open}
"""


@pytest.fixture
def make(tmp_path):
    def make(text: str) -> SimulatedDrive:
        path = tmp_path / "p.toml"
        path.write_text(text)
        return SimulatedDrive(load_profile(path))
    return make


def answer(drive, cdb: bytes, length: int) -> bytes:
    done = drive.execute(cdb, data_in_length=length)
    assert done.ok, done.sense.hex(" ")
    return done.data


def sense(drive, cdb: bytes, length: int = 2048) -> tuple[str, int]:
    done = drive.execute(cdb, data_in_length=length)
    assert not done.ok
    s = done.sense
    return f"{s[2] & 0x0F:02X}/{s[12]:02X}/{s[13]:02X}", struct.unpack_from(">I", s, 3)[0]


def test_read_capacity_counts_the_last_run_out_and_the_full_toc_gives_each_sessions_lead_out(make):
    drive = make(TWO_SESSIONS.format(disc="", open=""))
    assert mmc.parse_read_capacity_10(answer(drive, h("25 00 00 00 00 00 00 00 00 00"), 8)).sectors == 12_904
    full = mmc.parse_full_toc(answer(drive, h("43 00 02 00 00 00 00 ff fe 00"), 0xFFFE))
    one, two = full.sessions()
    assert (one.first_track, one.last_track, one.leadout_lba, one.tracks) == (1, 1, 1002, ((1, 4, 0),))
    assert one.next_program_area_lba == 12_402 and two.next_program_area_lba is None       # finalized
    assert (two.leadout_lba, two.tracks) == (12_904, ((2, 4, 12_402),))
    session = mmc.parse_session_info(answer(drive, h("43 00 01 00 00 00 00 00 0c 00"), 12))
    assert (session.first_session, session.last_session, session.first_track_in_last_session,
            session.start_lba) == (1, 2, 2, 12_402)


def test_reads_into_run_out_gap_and_past_the_end_fail_as_drives_fail_there(make):
    drive = make(TWO_SESSIONS.format(disc="", open=""))
    assert sense(drive, h("28 00 00 00 03 e7 00 00 02 00")) == ("05/64/00", 1000)   # 999-1000: run-out at 1000
    assert sense(drive, h("28 00 00 00 10 00 00 00 01 00")) == ("05/64/00", 4096)   # between the sessions
    assert sense(drive, h("be 00 00 00 03 e8 00 00 01 10 00 00")) == ("05/64/00", 1000)   # READ CD too
    done = drive.execute(h("28 00 00 00 32 6f 00 00 01 00"), data_in_length=2048)   # 12911: past the end
    assert (done.sense[2], done.sense[12]) == (0x05, 0x21)
    assert answer(drive, h("28 00 00 00 03 e7 00 00 01 00"), 2048) == drive.expected_sector(999)
    assert answer(drive, h("28 00 00 00 30 72 00 00 01 00"), 2048) == drive.expected_sector(12_402)


def test_track_information_counts_the_run_out_and_gives_no_last_recorded_address_on_a_cd(make):
    drive = make(TWO_SESSIONS.format(disc="", open=""))
    one = mmc.parse_track_information(answer(drive, h("52 01 00 00 00 01 00 00 30 00"), 48))
    two = mmc.parse_track_information(answer(drive, h("52 01 00 00 00 02 00 00 30 00"), 48))
    assert (one.track, one.session, one.start_lba, one.size, one.last_recorded) == (1, 1, 0, 1002, None)
    assert (two.session, two.start_lba, two.size, two.data_mode) == (2, 12_402, 502, 1)
    done = drive.execute(h("52 00 00 00 10 00 00 00 30 00"), data_in_length=48)     # an LBA in the gap
    assert not done.ok and done.sense[12] == 0x24


def test_an_appendable_disc_has_an_empty_last_session_a_blank_track_and_unrecorded_space(make):
    drive = make(TWO_SESSIONS.format(disc="capacity = 14000\nfinalized = false", open=""))
    di = mmc.parse_disc_information(answer(drive, h("51 00 00 00 00 00 00 00 22 00"), 34))
    assert (di.disc_status, di.last_session_state, di.sessions, di.first_track_in_last_session) == (1, 0, 3, 3)
    assert mmc.disc_information_lba(di.last_session_lead_in, cd=True) == 12_904 + 2250
    blank = mmc.parse_track_information(answer(drive, h("52 01 00 00 00 03 00 00 30 00"), 48))
    assert (blank.blank, blank.next_writable, blank.session) == (True, 12_904 + 6900, 3)
    assert sense(drive, h("28 00 00 00 36 a8 00 00 01 00")) == ("08/00/00", 13_992)     # blank check
    full = mmc.parse_full_toc(answer(drive, h("43 00 02 00 00 00 00 ff fe 00"), 0xFFFE))
    assert full.sessions()[-1].next_program_area_lba == 12_904 + 6900


def test_an_open_session_is_in_no_toc_and_read_capacity_stops_at_the_closed_ones(make):
    drive = make(TWO_SESSIONS.format(disc="", open="open = true"))
    assert mmc.parse_read_capacity_10(answer(drive, h("25 00 00 00 00 00 00 00 00 00"), 8)).sectors == 1002
    toc = mmc.parse_toc(answer(drive, h("43 00 00 00 00 00 00 ff fe 00"), 0xFFFE))
    assert [(e.track, e.start_lba) for e in toc.entries] == [(1, 0), (0xAA, 1002)]
    di = mmc.parse_disc_information(answer(drive, h("51 00 00 00 00 00 00 00 22 00"), 34))
    assert (di.disc_status, di.last_session_state, di.sessions) == (1, 1, 2)
    two = mmc.parse_track_information(answer(drive, h("52 01 00 00 00 02 00 00 30 00"), 48))
    assert (two.start_lba, two.size, two.next_writable) == (12_402, 502, 12_904)
    assert answer(drive, h("28 00 00 00 30 72 00 00 01 00"), 2048) == drive.expected_sector(12_402)   # past capacity


AUDIO_THEN_DATA = """
[disc]
profile = "cd-rom"

[[track]]
number = 1
start = 0
mode = "audio"
image = "a.raw"

[[track]]
number = 2
start = 310
image = "d.iso"
"""


def test_an_audio_track_is_raw_cd_da_by_read_cd_and_illegal_mode_by_read_10(make, tmp_path):
    samples = bytes(range(256)) * (2352 * 10 // 256) + bytes(2352 * 10 % 256)
    (tmp_path / "a.raw").write_bytes(samples)
    (tmp_path / "d.iso").write_bytes(b"\x11" * 2048 * 4)
    drive = make(AUDIO_THEN_DATA)
    assert sense(drive, h("28 00 00 00 00 02 00 00 01 00"))[0] == "05/64/00"
    raw = answer(drive, h("be 04 00 00 00 02 00 00 02 10 00 00"), 2 * 2352)          # CD-DA, LBA 2, 2 sectors
    assert raw == samples[2 * 2352:4 * 2352]
    assert sense(drive, h("28 00 00 00 00 0a 00 00 01 00"))[0] == "05/64/00"          # 10: between the tracks
    toc = mmc.parse_toc(answer(drive, h("43 00 00 00 00 00 00 ff fe 00"), 0xFFFE))
    assert [(e.track, e.is_data) for e in toc.entries] == [(1, False), (2, True), (0xAA, True)]


@pytest.mark.parametrize("tracks,message", [
    ("[[track]]\nnumber = 1\nstart = 0\nsectors = 10\n[[track]]\nnumber = 2\nsession = 3\nstart = 20\nsectors = 5\n",
     "sessions run 1, 2"),
    ("[[track]]\nnumber = 1\nstart = 0\nsectors = 10\nwrite = \"tao\"\n[[track]]\nnumber = 2\nstart = 11\nsectors = 5\n",
     "inside track 1"),
    ("[[track]]\nnumber = 1\nstart = 0\nsectors = 10\nopen = true\n[[track]]\nnumber = 2\nsession = 2\nstart = 20\n"
     "sectors = 5\n", "session 1 is open"),
    ("[[track]]\nnumber = 1\nstart = 0\nsectors = 10\nwrite = \"packet\"\n", "write 'packet' is unknown"),
    ("[[track]]\nnumber = 1\nstart = 0\n", "needs exactly one of image and sectors"),
])
def test_a_track_layout_that_cannot_be_is_refused_in_one_line(make, tracks, message):
    with pytest.raises(ProfileError, match=message):
        make('[disc]\nprofile = "cd-r"\n' + tracks)


def test_a_tao_track_on_a_dvd_is_refused(make):
    with pytest.raises(ProfileError, match="write tao exists on a CD only"):
        make('[disc]\nprofile = "dvd-r"\n[[track]]\nnumber = 1\nstart = 0\nsectors = 10\nwrite = "tao"\n')
