"""An audio CD as the issue's first example has it: generated PCM with a hidden track one audio,
pre-gaps (INDEX 00) that only the Q subchannel tells, ISRCs, an MCN, CD-Text and a drive offset of
+6 samples. Every sample equal to the source after offset correction; the CUE's INDEX 00/01
checked by bchunk's split (which cuts each track from its INDEX 01 to the next INDEX 00); the
AccurateRip sums equal arver's on the WAVs; the disc ID equal libdiscid's for the TOC."""
from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from audio_discs import audio_cd
from conftest import run_acquire

SECTOR = 2352


def rows(record, sql):
    with sqlite3.connect(record) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def ripped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audio-cd")
    disc = audio_cd(tmp)
    done = run_acquire("image", f"sim:{disc['profile']}", tmp / "out.iso", "--json", check_code=0)
    return tmp, disc, json.loads(done.stdout)


def disc_values(tmp):
    return {k: json.loads(v) for k, v in rows(tmp / "out.iso.custody.sqlite", "SELECT name, value FROM audio_disc")}


def test_every_sample_of_the_htoa_and_the_tracks_equals_the_source_after_the_offset(ripped):
    tmp, disc, out = ripped
    assert out["status"] == "complete" and out["audio"]["unresolved_samples"] == 0
    assert (out["audio"]["read_offset"], out["audio"]["offset_source"]) == (6, "table")
    for number in (0, 1, 2, 3):             # 0: the hidden track one audio, LBA 0 to track 1's INDEX 01
        assert (tmp / f"out.{number:02d}.wav").read_bytes()[44:] == disc["tracks"][number][2]
    assert (tmp / "out.bin").read_bytes() == b"".join(disc["tracks"][n][2] for n in (0, 1, 2, 3))
    values = disc_values(tmp)
    assert values["pregaps"] == {"1": 300, "2": 75, "3": 150}
    assert values["pregap_source"] == "Q subchannel (INDEX 00)"
    assert {k: values["htoa"][k] for k in ("sectors", "file", "silent", "q_index0")} == {
        "sectors": 300, "file": "out.00.wav", "silent": False, "q_index0": True}
    run_acquire("verify", tmp / "out.iso.custody.sqlite", "--no-record", check_code=0)


def test_the_cue_has_index_00_from_q_and_bchunk_cuts_the_tracks_where_it_says(ripped, tmp_path):
    tmp, disc, _ = ripped
    cue = (tmp / "out.cue").read_bytes().decode("ascii").split("\r\n")
    assert cue[:3] == ["CATALOG 0724384260927", 'TITLE "Hidden Things"', 'FILE "out.bin" BINARY']
    # the HTOA is 300 sectors (00:04:00); track 2's INDEX 00 is 75 sectors before its INDEX 01 at 600
    # (00:07:00, 00:08:00); track 3's 150 before its INDEX 01 at 910 (00:10:10, 00:12:10)
    assert cue[3:] == ["  TRACK 01 AUDIO", "    ISRC USRC17607831", "    INDEX 00 00:00:00", "    INDEX 01 00:04:00",
                       "  TRACK 02 AUDIO", "    ISRC USRC17607832", "    INDEX 00 00:07:00", "    INDEX 01 00:08:00",
                       "  TRACK 03 AUDIO", "    ISRC USRC17607833", "    INDEX 00 00:10:10", "    INDEX 01 00:12:10", ""]
    subprocess.run(["bchunk", "-w", str(tmp / "out.bin"), str(tmp / "out.cue"), str(tmp_path / "t")],
                   check=True, capture_output=True)
    cut = {n: (tmp_path / f"t{n:02d}.wav").read_bytes()[44:] for n in (1, 2, 3)}
    # bchunk leaves out the pre-gaps: track 1 without the HTOA, tracks 1 and 2 without the next one's INDEX 00
    assert cut[1] == disc["tracks"][1][2][:(300 - 75) * SECTOR]
    assert cut[2] == disc["tracks"][2][2][:(310 - 150) * SECTOR]
    assert cut[3] == disc["tracks"][3][2]
    # the DAT splits the BIN as Redump does: each track from its INDEX 00
    dat = (tmp / "out.dat").read_text()
    sizes = {1: (300 + 300 - 75) * SECTOR, 2: (75 + 310 - 150) * SECTOR, 3: (150 + 305) * SECTOR}
    for number, size in sizes.items():
        assert f'<rom name="out (Track {number:02d}).bin" size="{size}"' in dat


def test_accuraterip_equals_arver_and_the_disc_id_libdiscid_on_an_htoa_disc(ripped):
    from arver.audio import checksums      # pip install --no-deps arver
    import discid
    tmp, disc, out = ripped
    record = tmp / "out.iso.custody.sqlite"
    found = rows(record, "SELECT track, accuraterip_v1, accuraterip_v2, crc32 FROM audio_tracks WHERE track > 0")
    assert [r[0] for r in found] == [1, 2, 3]
    for number, v1, v2, crc in found:      # the tracks from INDEX 01 to INDEX 01: AccurateRip's view
        theirs = checksums.get_checksums(str(tmp / f"out.{number:02d}.wav"), number, 3)
        assert (v1, v2, crc) == (f"{theirs.arv1:08x}", f"{theirs.arv2:08x}", f"{theirs.crc:08x}")
    reference = discid.put(1, 3, disc["lead_out"] + 150, [disc["tracks"][n][0] + 150 for n in (1, 2, 3)])
    assert (out["audio"]["musicbrainz_id"], out["audio"]["freedb_id"]) == (reference.id, reference.freedb_id)


def test_ctdb_crcs_are_those_of_the_source_audio_by_cuetools_definition(ripped):
    import zlib
    tmp, disc, out = ripped
    # the audio from track 1's INDEX 01 (the HTOA left out, as CTDB does) to the lead-out: N samples;
    # the guard bands: the first 5,880 samples and the last 5,880 + N mod 5,880 (acquire/audio/checksums.py)
    stream = b"".join(disc["tracks"][n][2] for n in (1, 2, 3))
    n = len(stream) // 4
    lo, hi = 5880, n - 5880 - n % 5880
    ends = [0, 300 * 588, 610 * 588, n]
    tracks = {str(k): f"{zlib.crc32(stream[4 * max(ends[k - 1], lo):4 * min(ends[k], hi)]):08x}" for k in (1, 2, 3)}
    assert disc_values(tmp)["ctdb"] == {"crc": f"{zlib.crc32(stream[4 * lo:4 * hi]):08x}", "track_crcs": tracks}
    assert [t["ctdb_crc"] for t in out["audio"]["tracks"] if t["track"]] == list(tracks.values())


def test_a_drive_without_subchannel_still_rips_the_htoa_but_writes_no_index_00_it_cannot_know(tmp_path):
    disc = audio_cd(tmp_path, drive="read_offset = 6\noverread = true\nsubchannel = false")
    out = json.loads(run_acquire("image", f"sim:{disc['profile']}", tmp_path / "out.iso", "--json",
                                 check_code=0).stdout)
    assert out["audio"]["unresolved_samples"] == 0
    assert (tmp_path / "out.00.wav").read_bytes()[44:] == disc["tracks"][0][2]
    cue = (tmp_path / "out.cue").read_text().splitlines()
    # track 1's pre-gap is the HTOA by definition; the others' INDEX 00 only Q could tell
    assert [line.strip() for line in cue if "INDEX" in line] == [
        "INDEX 00 00:00:00", "INDEX 01 00:04:00", "INDEX 01 00:08:00", "INDEX 01 00:12:10"]
    values = disc_values(tmp_path)
    assert values["pregap_source"] == "none: the drive gives no subchannel" and values["htoa"]["q_index0"] is False


def sectors_read(trace: Path) -> int:
    """Sectors the simulated drive was asked for, from its trace ("LBA COUNT ok|err ...")."""
    lines = [line.split() for line in trace.read_text().splitlines()]
    return sum(int(f[1]) for f in lines if len(f) >= 3 and f[2] in ("ok", "err"))


def audio_figures(tmp):
    record = tmp / "out.iso.custody.sqlite"
    tracks = rows(record, "SELECT * FROM audio_tracks ORDER BY track")
    columns = [c[1] for c in rows(record, "PRAGMA table_info(audio_tracks)")]
    drive_time = columns.index("elapsed_s")          # drive time: where the head was before differs
    return ([t[:drive_time] + t[drive_time + 1:] for t in tracks],
            rows(record, "SELECT track, first_sample, last_sample, time, reason FROM audio_damage ORDER BY id"),
            disc_values(tmp))


def test_kill_9_inside_the_audio_step_resumes_with_the_tracks_read_and_ends_as_an_uninterrupted_rip(tmp_path):
    import signal
    import sys
    import time
    from conftest import ROOT
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    reference.mkdir(), killed.mkdir()
    damage = '[[damage]]\nlbas = "700"\nkind = "unstable"\nc2 = false\n'      # an unresolved run, kept too
    for where in (reference, killed):
        disc = audio_cd(where, drive='read_offset = 6\noverread = true\ntrace = "fresh.log"')
        disc["profile"].write_text(disc["profile"].read_text() + damage
                                   + ("[timing]\nsleep_scale = 1.0\n" if where == killed else ""))
    run_acquire("image", f"sim:{reference / 'audio.toml'}", reference / "out.iso", "--json", check_code=3)
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "image", f"sim:{killed / 'audio.toml'}",
                             str(killed / "out.iso"), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(__import__("os").environ, PYTHONPATH=str(ROOT)))
    part = killed / "out.audio-parts" / "01.json"          # the HTOA and track 1 done, track 2 being read
    deadline = time.monotonic() + 120
    while not part.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and not (killed / "out.cue").exists()
    text = (killed / "audio.toml").read_text().replace("sleep_scale = 1.0", "sleep_scale = 0.0")
    text = text.replace('trace = "fresh.log"', 'trace = "resume.log"')    # the resume's reads alone
    (killed / "audio.toml").write_text(text)
    done = run_acquire("image", f"sim:{killed / 'audio.toml'}", killed / "out.iso", "--json", check_code=3)
    out = json.loads(done.stdout)
    assert out["resumed"] and out["audio"]["kept_tracks"] == [0, 1]     # read once, by the killed run
    for name in ("out.bin", "out.cue", "out.sub", "out.dat", "out.toc.txt", *(f"out.{n:02d}.wav" for n in range(4))):
        assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    assert audio_figures(killed) == audio_figures(reference)
    assert not (killed / "out.audio-parts").exists()
    # the drive's own trace: the resume reads fewer sectors than a fresh rip of the same disc
    assert 0 < sectors_read(killed / "resume.log") < sectors_read(reference / "fresh.log")
    run_acquire("verify", killed / "out.iso.custody.sqlite", "--no-record", check_code=0)
