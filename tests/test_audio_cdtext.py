"""CD-TEXT beyond the album title (pack types 80h-82h: title, performer, songwriter of the disc and
each track) from the simulated drive's packs into the CUE, the record, the report and the rip log;
the CUE read back by shntool (an independent CUE reader: its split names files from TITLE and
PERFORMER); the per-track pre-gap, HTOA, CTDB CRC and ISRC in the log and the report."""
from __future__ import annotations

import json
import sqlite3
import struct
import subprocess
import wave

import pytest

from acquire.audio import output
from acquire.drive import mmc
from acquire.drive.sim.structures import cd_text_packs

# Title packs (80h) of the disc "Album", track 1 "One", track 2 "Two", worked by hand from the
# Red Book pack layout: the strings each ended by a NUL, run on across packs; a pack's track is the
# one its first text byte belongs to, its character position how many of that string's characters
# earlier packs hold.
#   pack 0: 80 00 00 00 "Album\0One\0Tw"   (starts in the disc's string, at its character 0)
#   pack 1: 80 02 01 02 "o\0" + 10 NULs     (starts in track 2's string, 2 characters in)
PACK_HEADS = [bytes.fromhex("80 00 00 00") + b"Album\0One\0Tw", bytes.fromhex("80 02 01 02") + b"o\0" + bytes(10)]


def packs(heads: list[bytes]) -> bytes:
    return b"".join(h + struct.pack(">H", mmc.media.crc16(h) ^ 0xFFFF) for h in heads)


def test_title_packs_of_disc_and_tracks_are_the_hand_worked_bytes_and_parse_back():
    body = packs(PACK_HEADS)
    assert cd_text_packs({"title": {0: "Album", 1: "One", 2: "Two"}}, 2) == body
    parsed = mmc.parse_cd_text(struct.pack(">HBB", len(body) + 2, 0, 0) + body)
    assert parsed.strings(0x80) == {0: "Album", 1: "One", 2: "Two"}


def test_cue_text_commands_are_quoted_and_a_double_quote_cannot_end_them():
    assert output.cue_string('Say "Hi"\tnow') == "\"Say 'Hi' now\""
    text = output.cue_text("d.bin", [output.CueTrack(1, True, 300, cd_text=(("TITLE", "One"), ("SONGWRITER", "Ann")),
                                                     isrc="USRC17607839")],
                           disc_text=(("TITLE", "Album"), ("PERFORMER", "The Band")))
    assert text.split("\r\n") == ['TITLE "Album"', 'PERFORMER "The Band"', 'FILE "d.bin" BINARY', "  TRACK 01 AUDIO",
                                  '    TITLE "One"', '    SONGWRITER "Ann"', "    ISRC USRC17607839",
                                  "    INDEX 01 00:00:00", ""]


TRACK_TEXT = {1: 'title = "Opening"\nperformer = "Ann Smith"\nsongwriter = "A. Smith"',
              2: 'title = "The \\"Middle\\""\nperformer = "Bob"', 3: 'title = "Coda"'}


@pytest.fixture(scope="module")
def ripped(tmp_path_factory):
    from audio_discs import audio_cd
    from conftest import run_acquire
    tmp = tmp_path_factory.mktemp("cdtext")
    disc = audio_cd(tmp, disc='cd_text_performer = "The Band"\ncd_text_songwriter = "Various"',
                    track_text=TRACK_TEXT)
    run_acquire("image", f"sim:{disc['profile']}", tmp / "out.iso", "--json", check_code=0)
    record = tmp / "out.iso.custody.sqlite"
    run_acquire("report", record, "-o", tmp / "rip.log", check_code=0)
    run_acquire("report", record, "-o", tmp / "r.md", check_code=0)
    return tmp, disc


def test_the_cue_has_the_disc_s_and_each_track_s_cd_text(ripped):
    tmp, _disc = ripped
    cue = (tmp / "out.cue").read_bytes().decode().split("\r\n")
    assert cue[:5] == ["CATALOG 0724384260927", 'TITLE "Hidden Things"', 'PERFORMER "The Band"',
                       'SONGWRITER "Various"', 'FILE "out.bin" BINARY']
    assert cue[cue.index("  TRACK 01 AUDIO") + 1:][:3] == ['    TITLE "Opening"', '    PERFORMER "Ann Smith"',
                                                           '    SONGWRITER "A. Smith"']
    assert cue[cue.index("  TRACK 02 AUDIO") + 1:][:2] == ["    TITLE \"The 'Middle'\"", '    PERFORMER "Bob"']
    with sqlite3.connect(tmp / "out.iso.custody.sqlite") as db:
        got = json.loads(db.execute("SELECT value FROM audio_disc WHERE name = 'cd_text'").fetchone()[0])
    assert got["2"] == {"TITLE": 'The "Middle"', "PERFORMER": "Bob"}       # the record keeps the text as read
    assert got["0"] == {"TITLE": "Hidden Things", "PERFORMER": "The Band", "SONGWRITER": "Various"}


def test_shntool_reads_the_titles_and_performers_back_from_the_cue(ripped, tmp_path):
    tmp, _disc = ripped
    pcm = (tmp / "out.bin").read_bytes()              # an audio-only disc: the BIN is the samples
    with wave.open(str(tmp_path / "disc.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(pcm)
    cue = (tmp / "out.cue").read_text().replace('FILE "out.bin" BINARY', 'FILE "disc.wav" WAVE')
    (tmp_path / "disc.cue").write_text(cue)
    (tmp_path / "split").mkdir()
    subprocess.run(["shntool", "split", "-q", "-f", str(tmp_path / "disc.cue"), "-t", "%n_%p_%a_%t",
                    "-d", str(tmp_path / "split"), str(tmp_path / "disc.wav")], check=True, capture_output=True)
    names = sorted(p.name for p in (tmp_path / "split").iterdir())
    # every TITLE as the CUE gives it, the disc's TITLE as the album; shntool (3.0.10) cuts the HTOA
    # (track 1's INDEX 00 from 00:00:00) as "00 pregap" and gives it track 1's PERFORMER, track 01 then
    # the disc's: its reading of a pre-gap, not the CUE's (track 1's PERFORMER line is in TRACK 01)
    assert names == ["00_Ann Smith_Hidden Things_pregap.wav", "01_The Band_Hidden Things_Opening.wav",
                     "02_Bob_Hidden Things_The 'Middle'.wav",
                     "03_The Band_Hidden Things_Coda.wav"]      # no PERFORMER of its own: the disc's


def test_the_rip_log_and_report_show_pre_gap_htoa_checksums_isrc_and_cd_text_per_track(ripped):
    tmp, disc = ripped
    log = (tmp / "rip.log").read_text()
    with sqlite3.connect(tmp / "out.iso.custody.sqlite") as db:
        ctdb = json.loads(db.execute("SELECT value FROM audio_disc WHERE name = 'ctdb'").fetchone()[0])
        ar = dict(((t, (v1, v2)) for t, v1, v2 in db.execute(
            "SELECT track, accuraterip_v1, accuraterip_v2 FROM audio_tracks")))
    tracks = log[log.index("Tracks:\n"):]
    track2 = tracks[tracks.index("  2:\n"):tracks.index("  3:\n")]
    assert "    Title: The \"Middle\"\n    Performer: Bob\n" in track2
    assert "    Pre-gap length: 00:01.00\n" in track2 and "    ISRC: USRC17607832\n" in track2   # 75 sectors
    assert f"      Local CRC: {ar[2][0].upper()}\n" in track2 and f"      Local CRC: {ar[2][1].upper()}\n" in track2
    assert f"    CTDB CRC: {ctdb['track_crcs']['2'].upper()}\n" in track2
    assert "  0: (hidden track one audio, before track 1's INDEX 01)\n" in log
    assert "  Performer: The Band\n" in log and f"  CTDB CRC: {ctdb['crc'].upper()}\n" in log
    assert "  ISRC and MCN: from Q frames, else READ SUB-CHANNEL; the two sources do not disagree\n" in log
    md = (tmp / "r.md").read_text()
    start3 = disc["tracks"][3][0]
    assert (f"| 3 | {start3} | {start3 + 304} | out.03.wav | 00:02.00 | USRC17607833 |") in md
    assert f"| {ctdb['track_crcs']['3']} | title Coda |" in md
    assert "ISRC and MCN from Q frames, else READ SUB-CHANNEL; the two sources do not disagree" in md
    assert "hidden track one audio: 300 sectors (00:04.00) before track 1, not silent, ripped to" in md
