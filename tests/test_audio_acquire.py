"""A mixed-mode CD (data track 1 + three audio tracks from generated WAVs) acquired through the
simulated drive in one `acquire image`, one record: the audio bit-exact after offset correction,
the BIN/CUE split back by bchunk into the same tracks, the AccurateRip sums equal arver's, the disc
IDs equal libdiscid's; damage with C2 re-read and resolved, damage without C2 caught by comparing
reads, and what no reads settle listed by track and time, exit 3."""
from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from audio_discs import make_wav, mixed_mode
from conftest import run_acquire


def image(tmp, profile, *extra, code=0):
    done = run_acquire("image", f"sim:{profile}", tmp / "out.iso", "--json", *extra, check_code=code)
    return json.loads(done.stdout)


def rows(record, sql):
    with sqlite3.connect(record) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mixed")
    disc = mixed_mode(tmp, drive="read_offset = 6\noverread = true\nraw_edc = true",
                      disc='mcn = "0724384260927"\ncd_text_title = "A Mixed Disc"', isrc={3: "USRC17607839"})
    return tmp, disc, image(tmp, disc["profile"])


def test_a_mixed_mode_cd_is_one_acquisition_with_its_audio_bit_exact_after_the_offset(clean):
    tmp, disc, out = clean
    assert out["status"] == "complete" and out["audio"]["unresolved_samples"] == 0
    # LITE-ON LTR-52246S is +6 in the shipped table; the drive really is +6
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"]) == (6, "table")
    for number in (2, 3, 4):
        assert (tmp / f"out.{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    assert (tmp / "out.iso").read_bytes()[:len(disc["tracks"][1][2])] == disc["tracks"][1][2]
    record = tmp / "out.iso.custody.sqlite"
    assert rows(record, "SELECT track, start, end, unresolved_samples FROM audio_tracks ORDER BY track") == [
        (n, disc["tracks"][n][0], disc["tracks"][n][0] + disc["tracks"][n][1], 0) for n in (2, 3, 4)]
    disc_rows = dict(rows(record, "SELECT name, value FROM audio_disc"))
    n = disc["tracks"][1][1]
    assert json.loads(disc_rows["data_track"]) == {"raw_sectors": n, "edc_ok": n, "lec_ok": n, "rebuilt": 0}
    assert json.loads(disc_rows["offset_source"]) == "table"
    # the .sub beside the BIN: 96 bytes a sector, Q of each sector where READ CD gave it
    sub = (tmp / "out.sub").read_bytes()
    assert len(sub) == 96 * ((tmp / "out.bin").stat().st_size // 2352)
    from acquire.audio.subq import parse_q
    for lba in (0, 100, disc["tracks"][2][0], disc["tracks"][4][0] + 17):
        at = lba - (150 if lba >= disc["tracks"][2][0] else 0)         # the BIN leaves out the link (PREGAP)
        frame = parse_q(sub[96 * at + 12:96 * at + 24])
        assert frame.crc_ok and frame.lba == lba
    # the data track is analysed as any data disc: its ISO 9660 volume and its file
    assert rows(record, "SELECT kind, label FROM filesystems") == [("iso9660", "MIXED")]
    assert ("/README.TXT",) in rows(record, "SELECT path FROM files")
    done = run_acquire("verify", record, "--no-record", check_code=0)     # the audio tables are under the seal
    assert "PASS audio: the BIN, CUE, .sub and 3 track WAVs are the ones the record describes" in done.stdout


def test_bchunk_splits_the_bin_cue_back_into_the_same_tracks(clean, tmp_path):
    tmp, disc, _ = clean
    cue = (tmp / "out.cue").read_bytes().decode("ascii").split("\r\n")
    assert cue[:3] == ["CATALOG 0724384260927", 'TITLE "A Mixed Disc"', 'FILE "out.bin" BINARY']
    assert cue[cue.index("  TRACK 03 AUDIO") + 1] == "    ISRC USRC17607839"
    assert cue[cue.index("  TRACK 02 AUDIO") + 1] == "    PREGAP 00:02:00"        # the link, not recorded
    subprocess.run(["bchunk", "-w", str(tmp / "out.bin"), str(tmp / "out.cue"), str(tmp_path / "t")],
                   check=True, capture_output=True)
    assert (tmp_path / "t01.iso").read_bytes() == disc["tracks"][1][2]
    for number in (2, 3, 4):
        assert (tmp_path / f"t{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    # the Redump-style DAT: one <rom> per track part of the BIN (the audio ones hashed here from bchunk's WAVs)
    dat = (tmp / "out.dat").read_text()
    import hashlib
    import zlib
    iso_raw = (tmp / "out.bin").read_bytes()[:disc["tracks"][1][1] * 2352]
    assert (f'<rom name="out (Track 01).bin" size="{len(iso_raw)}" crc="{zlib.crc32(iso_raw):08x}" '
            f'md5="{hashlib.md5(iso_raw).hexdigest()}" sha1="{hashlib.sha1(iso_raw).hexdigest()}"/>') in dat
    for number in (2, 3, 4):
        pcm = (tmp_path / f"t{number:02d}.wav").read_bytes()[44:]
        assert (f'<rom name="out (Track {number:02d}).bin" size="{len(pcm)}" crc="{zlib.crc32(pcm):08x}" '
                f'md5="{hashlib.md5(pcm).hexdigest()}" sha1="{hashlib.sha1(pcm).hexdigest()}"/>') in dat
    lengths = subprocess.run(["shntool", "len", *(str(tmp / f"out.{n:02d}.wav") for n in (2, 3, 4))],
                             check=True, capture_output=True, text=True).stdout
    assert lengths.count("---   --   -----") == 3       # CD quality, on sector boundaries, not too short, no problems


def test_accuraterip_sums_equal_arvers_and_disc_ids_equal_libdiscids(clean):
    from arver.audio import checksums      # .ci/run: pip install --no-deps arver
    import discid                          # python-discid over libdiscid0
    tmp, disc, _ = clean
    record = tmp / "out.iso.custody.sqlite"
    for number, v1, v2, crc in rows(record, "SELECT track, accuraterip_v1, accuraterip_v2, crc32 FROM audio_tracks"):
        theirs = checksums.get_checksums(str(tmp / f"out.{number:02d}.wav"), number, 4)
        assert (v1, v2, crc) == (f"{theirs.arv1:08x}", f"{theirs.arv2:08x}", f"{theirs.crc:08x}")
    starts = [disc["tracks"][n][0] + 150 for n in (1, 2, 3, 4)]
    reference = discid.put(1, 4, disc["lead_out"] + 150, starts)
    values = {k: json.loads(v) for k, v in rows(record, "SELECT name, value FROM audio_disc")}
    assert (values["musicbrainz_id"], values["freedb_id"]) == (reference.id, reference.freedb_id)


def test_a_drive_without_raw_edc_has_its_data_sectors_rebuilt_into_the_same_bin(clean, tmp_path):
    tmp, disc, _ = clean
    zero = mixed_mode(tmp_path, drive="read_offset = 6\noverread = true",        # EDC/ECC zero, as QEMU's
                      disc='mcn = "0724384260927"\ncd_text_title = "A Mixed Disc"', isrc={3: "USRC17607839"})
    (tmp_path / "data.iso").write_bytes(disc["tracks"][1][2])     # the same data track (genisoimage dates its volume)
    image(tmp_path, zero["profile"])
    n = disc["tracks"][1][1]
    values = {k: json.loads(v) for k, v in rows(tmp_path / "out.iso.custody.sqlite", "SELECT name, value FROM audio_disc")}
    assert values["data_track"] == {"raw_sectors": n, "edc_ok": 0, "lec_ok": 0, "rebuilt": n}
    assert (tmp_path / "out.bin").read_bytes() == (tmp / "out.bin").read_bytes()    # rebuilt = read raw


def test_damage_with_c2_is_re_read_and_without_c2_is_caught_by_comparing_reads(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = 6\noverread = true", damage=[
        'lbas = "500-501"\nkind = "flaky"\nfailures = 2',                # C2-flagged for two reads
        'lbas = "900"\nkind = "flaky"\nfailures = 1\nc2 = false'])       # wrong once, no flag
    out = image(tmp_path, disc["profile"])
    assert out["status"] == "complete" and out["audio"]["unresolved_samples"] == 0
    for number in (2, 3, 4):
        assert (tmp_path / f"out.{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    by_track = {t["track"]: t for t in out["audio"]["tracks"]}
    # LBA 500, 501 (track 2): flagged twice, so two rounds of re-reads of just those two sectors
    assert by_track[2]["c2_samples"] == 100 and by_track[2]["rereads"] == 4
    # two passes over the track's sectors and the one its last samples spill into (offset +6), then the re-reads
    assert by_track[2]["reads"] == 2 * (by_track[2]["end"] - by_track[2]["start"] + 1) + 4
    assert by_track[3]["c2_samples"] == 0 and by_track[3]["rereads"] >= 1    # LBA 900: track 3, caught unflagged


def test_samples_no_reads_agree_on_are_listed_by_track_and_time_and_exit_3(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = 6\noverread = true", damage=[
        'lbas = "700"\nkind = "unstable"\nc2 = false'])
    out = image(tmp_path, disc["profile"], "--audio-budget", "30", code=3)
    start3 = disc["tracks"][3][0]
    assert disc["tracks"][2][0] + disc["tracks"][2][1] == start3 < 700 < start3 + 75
    # LBA 700 is track 3's sector 700 - start3; the corrupted bytes 1000-1199 are the samples 250-299
    # of what the drive delivers there, 6 samples early: the track's samples from (700 - start3) * 588 + 244
    first = (700 - start3) * 588 + 250 - 6
    assert out["audio"]["unresolved"] == [{"track": 3, "first_sample": first, "last_sample": first + 49,
                                           "time": f"00:00.{700 - start3:02d}", "reason": "mismatch"}]
    record = tmp_path / "out.iso.custody.sqlite"
    assert rows(record, "SELECT track, first_sample, last_sample, time, reason FROM audio_damage") == [
        (3, first, first + 49, f"00:00.{700 - start3:02d}", "mismatch")]
    run_acquire("report", record, "-o", tmp_path / "r.md", check_code=0)
    run_acquire("report", record, "-o", tmp_path / "rip.log", check_code=0)
    log = (tmp_path / "rip.log").read_text()
    assert f"      Unresolved at 00:00.{700 - start3:02d}: samples {first}-{first + 49} (mismatch)" in log
    assert "  Health status: 50 samples unresolved" in log and "  Read offset correction: +6" in log
    assert f"| 3 | 00:00.{700 - start3:02d} | {first} | {first + 49} | 50 | mismatch |" in (tmp_path / "r.md").read_text()


def test_a_drive_that_cannot_overread_leaves_the_last_samples_zero_and_marked(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = 6", audio_sectors=(300, 300, 300))
    out = image(tmp_path, disc["profile"], code=3)
    pcm = (tmp_path / "out.04.wav").read_bytes()[44:]
    assert pcm[:-24] == disc["tracks"][4][2][:-24] and pcm[-24:] == bytes(24)
    assert out["audio"]["unresolved"] == [{"track": 4, "first_sample": 300 * 588 - 6, "last_sample": 300 * 588 - 1,
                                           "time": "00:03.74", "reason": "not-overread"}]


def test_read_offset_option_wins_over_the_table_and_is_recorded(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = -30\nc2 = false\nsubchannel = false", audio_sectors=(300, 300, 300))
    out = image(tmp_path, disc["profile"], "--read-offset", "-30", code=3)     # the first 30 samples: lead-in side
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"]) == (-30, "option")
    pcm = (tmp_path / "out.03.wav").read_bytes()[44:]
    assert pcm == disc["tracks"][3][2]
    # track 2's first 30 samples would be read from the data track's side: zero and marked
    assert out["audio"]["unresolved"][0]["track"] == 2 and out["audio"]["unresolved"][0]["last_sample"] == 29


def test_a_cd_extra_has_its_audio_session_bit_exact_and_the_data_session_left_out_of_the_disc_id(tmp_path):
    import discid
    from audio_discs import cd_extra
    disc = cd_extra(tmp_path, drive="read_offset = 30\noverread = true")     # a PX-760A: +30 in the table
    out = image(tmp_path, disc["profile"])
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"], out["audio"]["unresolved"]) == (30, "table", [])
    for number in (1, 2):
        assert (tmp_path / f"out.{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    # libdiscid, given the audio session alone, as MusicBrainz defines a CD-Extra's ID
    reference = discid.put(1, 2, disc["audio_end"] + 150, [150, disc["tracks"][2][0] + 150])
    assert out["audio"]["musicbrainz_id"] == reference.id
    cue = (tmp_path / "out.cue").read_text().splitlines()
    assert "  REM SESSION 02" in cue and not any("PREGAP" in line for line in cue)


def test_the_time_budget_stops_re_reads_and_leaves_the_samples_listed(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = 6\noverread = true", damage=[
        'lbas = "500"\nkind = "flaky"\nfailures = 3'])
    out = image(tmp_path, disc["profile"], "--audio-budget", "0", code=3)
    track2 = next(t for t in out["audio"]["tracks"] if t["track"] == 2)
    assert (track2["budget_spent"], track2["rereads"]) == (1, 0)
    assert [(u["track"], u["reason"], u["last_sample"] - u["first_sample"] + 1) for u in out["audio"]["unresolved"]] == [
        (2, "c2", 50)]


def test_flac_beside_each_wav_decodes_to_the_same_samples(tmp_path):
    disc = mixed_mode(tmp_path, drive="read_offset = 6\noverread = true")
    out = image(tmp_path, disc["profile"], "--flac")
    for number in (2, 3, 4):
        flac = tmp_path / f"out.{number:02d}.flac"
        subprocess.run(["flac", "--silent", "--test", str(flac)], check=True)
        decoded = subprocess.run(["flac", "--silent", "--decode", "--stdout", "--force-raw-format", "--endian=little",
                                  "--sign=signed", str(flac)], check=True, capture_output=True).stdout
        assert decoded == disc["tracks"][number][2]
    assert out["status"] == "complete"


def test_the_offset_of_an_earlier_record_with_this_drive_is_taken_and_another_drives_refused(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    keys = "read_offset = 12\noverread = true"
    disc = mixed_mode(first, audio_sectors=(300, 300, 300), drive=keys)
    text = disc["profile"].read_text().replace('"LITE-ON"', '"ACME"')          # a drive in no table
    disc["profile"].write_text(text)
    out = image(first, disc["profile"], "--read-offset", "12")
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"]) == (12, "option")
    again = mixed_mode(second, audio_sectors=(300, 300, 300), drive=keys)
    again["profile"].write_text(again["profile"].read_text().replace('"LITE-ON"', '"ACME"'))
    out = image(second, again["profile"], "--read-offset-from", first / "out.iso.custody.sqlite")
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"]) == (12, "earlier-record")
    assert (second / "out.02.wav").read_bytes()[44:] == again["tracks"][2][2]
    other = tmp_path / "c"
    other.mkdir()
    lite_on = mixed_mode(other, audio_sectors=(300, 300, 300), drive=keys)
    done = run_acquire("image", f"sim:{lite_on['profile']}", other / "out.iso", "--read-offset-from",
                       first / "out.iso.custody.sqlite", check_code=2)
    assert "holds no known read offset of LITE-ON" in done.stderr and not (other / "out.iso").exists()


def test_verify_names_an_audio_file_changed_after_the_acquisition(tmp_path):
    disc = mixed_mode(tmp_path, audio_sectors=(300, 300, 300), drive="read_offset = 6\noverread = true")
    image(tmp_path, disc["profile"])
    wav = bytearray((tmp_path / "out.03.wav").read_bytes())
    wav[5000] ^= 1
    (tmp_path / "out.03.wav").write_bytes(bytes(wav))
    done = run_acquire("verify", tmp_path / "out.iso.custody.sqlite", "--no-record", check_code=1)
    assert "FAIL audio: 1 of 6 audio files differ from the record" in done.stdout and "out.03.wav: sha1" in done.stdout


def test_a_drive_lost_while_reading_audio_exits_4_and_the_same_command_finishes(tmp_path):
    disc = mixed_mode(tmp_path, audio_sectors=(300, 300, 300), drive="read_offset = 6\noverread = true")
    text = disc["profile"].read_text()
    disc["profile"].write_text(text + '[[event]]\nafter_commands = 70\nkind = "disconnect"\n')
    out = image(tmp_path, disc["profile"], code=4)
    assert out["status"] == "interrupted" and "while reading the audio tracks" in out["message"]
    disc["profile"].write_text(text)                          # reconnected
    out = image(tmp_path, disc["profile"])
    assert out["status"] == "complete" and out["resumed"]
    for number in (2, 3, 4):
        assert (tmp_path / f"out.{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    run_acquire("verify", tmp_path / "out.iso.custody.sqlite", "--no-record", check_code=0)


def test_a_different_disc_in_the_same_output_path_does_not_take_the_kept_tracks(tmp_path):
    disc = mixed_mode(tmp_path, audio_sectors=(300, 300, 300), drive="read_offset = 6\noverread = true")
    text = disc["profile"].read_text()
    disc["profile"].write_text(text + '[[event]]\nafter_commands = 70\nkind = "disconnect"\n')
    image(tmp_path, disc["profile"], code=4)
    assert list((tmp_path / "out.audio-parts").glob("*.json"))          # some tracks were kept
    # the record refuses another disc at this path (test_resume); with the record and image taken
    # away by hand the kept tracks stay, and only their key can tell that they are another disc's
    for made in tmp_path.glob("out.iso*"):
        made.unlink()
    # another pressing: its tracks 2 and 3 have the same spans, other samples, a longer track 4
    other = mixed_mode(tmp_path, audio_sectors=(300, 300, 310), drive="read_offset = 6\noverread = true")
    pcm = make_wav(tmp_path / "t2.wav", 300, 20)
    out = image(tmp_path, other["profile"])
    assert out["status"] == "complete"
    assert (tmp_path / "out.02.wav").read_bytes()[44:] == pcm != disc["tracks"][2][2]
    for number in (3, 4):
        assert (tmp_path / f"out.{number:02d}.wav").read_bytes()[44:] == other["tracks"][number][2]
