"""The simulated drive's audio side, by CDB bytes (docs/simulated-drive.md "Audio"): READ CD of audio
sectors shifted by its read offset, C2 error pointers over the corrupted bytes (or none: c2 = false),
formatted Q and raw P-W subchannel, drives that refuse C2 or subchannel (05/24/00), the lead-out
overread, and raw data sectors whose EDC holds when the drive computes it."""
from __future__ import annotations

import struct

import pytest

from acquire.audio import ecma130, subq
from acquire.drive.sim import SimulatedDrive
from acquire.drive.sim.audio import CORRUPT_AT, CORRUPT_BYTES
from acquire.errors import ProfileError
from audio_discs import make_wav

START, SECTORS = 20, 40          # one data track of 20 generated sectors... then the audio track


def read_cd(lba: int, count: int, fields: int = 0xF8, sub: int = 0, sector_type: int = 0) -> bytes:
    # BE | type<<2 | LBA | length (3) | byte 9 | byte 10 | control
    return struct.pack(">BBI", 0xBE, sector_type << 2, lba) + count.to_bytes(3, "big") + bytes([fields, sub, 0])


@pytest.fixture
def drive(tmp_path):
    pcm = make_wav(tmp_path / "a.wav", SECTORS, 3)
    opened = []

    def _drive(drive_keys: str = "", damage: str = "") -> tuple[SimulatedDrive, bytes]:
        path = tmp_path / "p.toml"
        path.write_text(f'[drive]\n{drive_keys}\n[disc]\nprofile = "cd-rom"\n'
                        f'[[track]]\nnumber = 1\nmode = "mode1"\nstart = 0\nsectors = {START}\n'
                        f'[[track]]\nnumber = 2\nmode = "audio"\nstart = {START}\nimage = "a.wav"\n{damage}')
        d = SimulatedDrive.from_profile(path)
        opened.append(d)
        return d, pcm
    yield _drive
    for d in opened:
        d.close()


def sense_of(done) -> tuple[int, int, int]:
    return done.sense[2] & 0x0F, done.sense[12], done.sense[13]


def test_read_cd_of_audio_is_the_samples_shifted_by_the_read_offset(drive):
    d, pcm = drive("read_offset = 6")
    done = d.execute(read_cd(START + 1, 2), data_in_length=2 * 2352)
    assert done.ok
    at = 2352 - 6 * 4                         # sample 588 - 6 of the track comes at LBA START + 1
    assert done.data == pcm[at:at + 2 * 2352]
    first = d.execute(read_cd(START, 1), data_in_length=2352).data
    assert first[:24] == bytes(24) and first[24:] == pcm[:2352 - 24]    # the pre-gap's silence first


def test_c2_marks_the_corrupted_bytes_and_a_flaky_sector_reads_true_afterwards(drive):
    d, pcm = drive("", f'[[damage]]\nlbas = "{START + 5}"\nkind = "flaky"\nfailures = 1\n')
    one = d.execute(read_cd(START + 5, 1, fields=0xFA), data_in_length=2352 + 294).data
    true = pcm[5 * 2352:6 * 2352]
    wrong = [i for i in range(2352) if one[i] != true[i]]
    assert wrong == list(range(CORRUPT_AT, CORRUPT_AT + CORRUPT_BYTES))
    flagged = [i for i in range(2352) if one[2352 + (i >> 3)] & (0x80 >> (i & 7))]
    assert flagged == wrong
    two = d.execute(read_cd(START + 5, 1, fields=0xFA), data_in_length=2352 + 294).data
    assert two == true + bytes(294)


def test_damage_without_c2_corrupts_unflagged(drive):
    d, pcm = drive("", f'[[damage]]\nlbas = "{START + 5}"\nkind = "unstable"\nc2 = false\n')
    one = d.execute(read_cd(START + 5, 1, fields=0xFA), data_in_length=2646).data
    two = d.execute(read_cd(START + 5, 1, fields=0xFA), data_in_length=2646).data
    assert one[:2352] != pcm[5 * 2352:6 * 2352] and one[:2352] != two[:2352]
    assert one[2352:] == two[2352:] == bytes(294)


def test_no_two_reads_of_an_unstable_sector_agree_within_a_drive_or_across_two(drive):
    # a resume compares its reads with a killed run's journal: reads from two processes must not
    # agree either (the corruption once repeated every 255 reads, so such pairs agreed 1 in 255)
    damage = f'[[damage]]\nlbas = "{START + 5}"\nkind = "unstable"\nc2 = false\n'
    seen = []
    for _ in range(2):
        d, pcm = drive("", damage)
        for _ in range(300):
            data = d.execute(read_cd(START + 5, 1), data_in_length=2352).data
            assert all(a != b for a, b in zip(data[CORRUPT_AT:CORRUPT_AT + CORRUPT_BYTES],
                                              pcm[5 * 2352 + CORRUPT_AT:5 * 2352 + CORRUPT_AT + CORRUPT_BYTES]))
            seen.append(data)
    assert len(set(seen)) == 600


def test_formatted_q_and_raw_p_w_name_the_sector(drive):
    d, _ = drive()
    q = d.execute(read_cd(START + 30, 1, sub=2), data_in_length=2352 + 16).data[2352:]
    frame = subq.parse_q(q)
    assert (frame.track, frame.index, frame.lba, frame.relative, frame.crc_ok, frame.audio) == (
        2, 1, START + 30, 30, True, True)
    raw = d.execute(read_cd(START + 30, 1, sub=1), data_in_length=2352 + 96).data[2352:]
    assert subq.q_from_raw(raw) == q[:12]
    data_q = subq.parse_q(d.execute(read_cd(3, 1, sub=2), data_in_length=2352 + 16).data[2352:])
    assert (data_q.track, data_q.audio, data_q.lba) == (1, False, 3)


@pytest.mark.parametrize("keys, fields, sub", [("c2 = false", 0xFA, 0), ("subchannel = false", 0xF8, 2)])
def test_a_drive_without_c2_or_subchannel_refuses_them(drive, keys, fields, sub):
    d, _ = drive(keys)
    done = d.execute(read_cd(START, 1, fields=fields, sub=sub), data_in_length=2352 + 294 + 16)
    assert not done.ok and sense_of(done) == (0x05, 0x24, 0x00)
    assert d.execute(read_cd(START, 1), data_in_length=2352).ok


def test_get_configuration_cd_read_feature_says_whether_c2_is_there(drive):
    for keys, bit in (("", 0x02), ("c2 = false", 0x00)):
        d, _ = drive(keys)
        # 46 | RT 2 (one feature) | starting feature 001E | reserved | allocation | control
        data = d.execute(bytes([0x46, 0x02, 0x00, 0x1E, 0, 0, 0, 0x00, 0xFF, 0]), data_in_length=255).data
        assert struct.unpack_from(">H", data, 8)[0] == 0x001E and data[12] & 0x02 == bit


def test_the_lead_out_is_read_only_by_a_drive_that_overreads(drive):
    end = START + SECTORS
    d, _ = drive()
    done = d.execute(read_cd(end - 1, 2), data_in_length=2 * 2352)
    assert not done.ok and sense_of(done) == (0x05, 0x21, 0x00)
    d, pcm = drive("read_offset = 6\noverread = true")
    data = d.execute(read_cd(end, 1), data_in_length=2352).data
    assert data[:24] == pcm[-24:] and data[24:] == bytes(2352 - 24)


def test_raw_data_sectors_carry_a_true_edc_when_the_drive_computes_it(drive):
    d, _ = drive("raw_edc = true")
    raw = d.execute(read_cd(7, 1), data_in_length=2352).data
    assert ecma130.check_raw(raw).trusted and ecma130.lec_ok(raw)
    # what the host rebuilds from the user data is what the drive reads raw, byte for byte
    assert ecma130.mode1_sector(7, raw[16:2064]) == raw
    d, _ = drive()                                  # QEMU-like: EDC/ECC zero, never trusted
    assert not ecma130.check_raw(d.execute(read_cd(7, 1), data_in_length=2352).data).trusted


def test_profile_refuses_bad_audio_keys(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[drive]\nread_offset = 99999\n[disc]\nprofile = "cd-rom"\nsectors = 10\n')
    with pytest.raises(ProfileError, match="read_offset"):
        SimulatedDrive.from_profile(path)
    path.write_text('[disc]\nprofile = "cd-rom"\nsectors = 10\n[[damage]]\nlbas = "1"\nkind = "slow"\ndelay_s = 1\nc2 = false\n')
    with pytest.raises(ProfileError, match="c2 applies"):
        SimulatedDrive.from_profile(path)


def htoa_profile(tmp_path, pregap_keys: str = 'pregap = 30\npregap_image = "h.wav"') -> tuple:
    """Track 1 at LBA 30 with a hidden track one audio (LBA 0-29) before it, track 2 at 70 with a
    10-sector pre-gap inside track 1."""
    htoa = make_wav(tmp_path / "h.wav", 30, 9)
    one, two = make_wav(tmp_path / "one.wav", 40, 4), make_wav(tmp_path / "two.wav", 20, 5)
    path = tmp_path / "htoa.toml"
    path.write_text('[drive]\n[disc]\nprofile = "cd-rom"\n'
                    f'[[track]]\nnumber = 1\nmode = "audio"\nstart = 30\nimage = "one.wav"\n{pregap_keys}\n'
                    '[[track]]\nnumber = 2\nmode = "audio"\nstart = 70\nimage = "two.wav"\npregap = 10\n')
    return path, htoa, one, two


def test_q_in_a_pre_gap_is_the_next_tracks_index_00_counting_down_and_an_htoa_has_its_samples(tmp_path):
    path, htoa, one, _ = htoa_profile(tmp_path)
    d = SimulatedDrive.from_profile(path)
    try:
        def frame(lba):
            return subq.parse_q(d.execute(read_cd(lba, 1, sub=2), data_in_length=2352 + 16).data[2352:])
        # Q byte 1 track, byte 2 index, bytes 3-5 relative MSF: counting down to 0 at the last pre-gap sector
        assert [(f.track, f.index, f.relative, f.lba, f.crc_ok) for f in map(frame, (0, 29, 30, 59, 60, 69, 70))] == [
            (1, 0, 29, 0, True), (1, 0, 0, 29, True), (1, 1, 0, 30, True), (1, 1, 29, 59, True),
            (2, 0, 9, 60, True), (2, 0, 0, 69, True), (2, 1, 0, 70, True)]
        # the HTOA's samples (LBA 0-29) are the pre-gap image's; track 2's pre-gap samples are track 1's
        assert d.execute(read_cd(0, 30), data_in_length=30 * 2352).data == htoa
        assert d.execute(read_cd(60, 10), data_in_length=10 * 2352).data == one[30 * 2352:]
        assert d.execute(bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), data_in_length=2048).sense[12:14] == bytes([0x64, 0])
    finally:
        d.close()


@pytest.mark.parametrize("keys, message", [
    ('pregap = 30', "pregap 30 is not inside the audio track before it"),
    ('pregap = 31\npregap_image = "h.wav"', "pregap 31: an audio track's INDEX 00, 1 to 30 sectors"),
    ('pregap = 20\npregap_image = "h.wav"', "pregap_image holds 30 sectors, not the pregap's 20"),
    ('pregap_image = "h.wav"', "pregap_image needs pregap")])
def test_a_pre_gap_the_disc_cannot_have_is_refused(tmp_path, keys, message):
    path, *_ = htoa_profile(tmp_path, keys)
    with pytest.raises(ProfileError, match=message):
        SimulatedDrive.from_profile(path)


@pytest.mark.parametrize("drive, disc, message", [
    ('read_sub_channel_isrc = "left"', "", "read_sub_channel_isrc 'left' is one of disc, neighbour, none"),
    ('read_sub_channel_mcn = "12345"', "", "read_sub_channel_mcn '12345' is disc, none or a media catalogue number"),
    ("", 'cd_text_packs = "80000000"', "cd_text_packs is a CD's CD-TEXT packs"),
    ("", 'cd_text_packs = "zz"', "cd_text_packs 'zz' is not hex")])
def test_profile_refuses_read_sub_channel_and_cd_text_keys_a_drive_cannot_have(tmp_path, drive, disc, message):
    path = tmp_path / "p.toml"
    path.write_text(f'[drive]\n{drive}\n[disc]\nprofile = "cd-rom"\nsectors = 10\n{disc}\n')
    with pytest.raises(ProfileError, match=message):
        SimulatedDrive.from_profile(path)
