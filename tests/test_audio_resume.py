"""A run stopped inside an audio track goes on inside it (acquire/audio/journal.py): `acquire image`
on a simulated single-track audio CD killed with SIGKILL in the middle of the track (in its first
pass, and in its re-reads of damaged sectors), then resumed, ends with the BIN, CUE, .sub, DAT, TOC
and WAV byte for byte those of an uninterrupted run, and the same audio tables in the record. The
simulated drive's own trace (a line per READ CD, written as it answers) shows what each run asked
for: the killed run and the resume together read each sector as often as the uninterrupted run,
but for the one command in flight at the kill; the resume alone reads fewer."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from acquire.audio import journal
from acquire.audio.rip import TrackRipper
from acquire.drive.cdda import MAX_SECTORS, CddaReader
from acquire.drive.device import open_drive
from audio_discs import make_wav
from conftest import ROOT, run_acquire
from test_audio_cd import audio_figures

SECTORS = 1000                     # 13 s of audio in one track: the rip asks for some 2,150 sectors,
#                                    two passes (2,056) then 16 rounds of re-reads of the 3 damaged ones
# LBA 300: unstable, no C2 (mismatch); 600: unstable, C2 set (c2); 800: unreadable. Damage that
# behaves the same in every process: a flaky sector's count of failures starts again in each
DAMAGE = ('[[damage]]\nlbas = "300"\nkind = "unstable"\nc2 = false\n'
          '[[damage]]\nlbas = "600"\nkind = "unstable"\n'
          '[[damage]]\nlbas = "800"\nkind = "unreadable"\n')


def single_track(where: Path, trace: str, sleep_scale: float = 0.0) -> Path:
    where.mkdir(exist_ok=True)
    if not (where / "t1.wav").exists():
        make_wav(where / "t1.wav", SECTORS, 3)
    profile = where / "disc.toml"
    profile.write_text(f'[drive]\nvendor = "LITE-ON"\nproduct = "LTR-52246S"\nread_offset = 6\noverread = true\n'
                       f'trace = "{trace}"\n[disc]\nprofile = "cd-rom"\n'
                       f'[timing]\nspeed_x = 8\nerror_delay_s = 0.05\nsleep_scale = {sleep_scale}\n'
                       f'[[track]]\nnumber = 1\nmode = "audio"\nstart = 0\nimage = "t1.wav"\n{DAMAGE}')
    return profile


def rip_reads(trace: Path) -> Counter:
    """How often the rip asked the simulated drive for each LBA, from its trace ("LBA COUNT ok|err
    ..."): every READ after the one-sector probe of the track's first sector (READ CD: what it can
    give, audio/cdda.py), which each run makes after the disc's checks (the same in every run)."""
    lines = [line.split() for line in trace.read_text().splitlines()]
    reads = [(int(f[0]), int(f[1])) for f in lines if len(f) >= 3 and f[2] in ("ok", "err")]
    counts: Counter = Counter()
    for lba, count in reads[reads.index((0, 1)) + 1:]:
        counts.update(range(lba, lba + count))
    return counts


def _reads(trace: Path) -> list[tuple[int, int]]:
    return [(int(f[0]), int(f[1])) for f in (line.split() for line in trace.read_text().splitlines())
            if len(f) >= 3 and f[2] in ("ok", "err")]


OUTPUTS = ("out.bin", "out.cue", "out.sub", "out.dat", "out.toc.txt", "out.01.wav")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    where = tmp_path_factory.mktemp("uninterrupted")
    profile = single_track(where, "fresh.log")
    out = json.loads(run_acquire("image", f"sim:{profile}", where / "out.iso", "--json", check_code=3).stdout)
    return where, out


@pytest.mark.parametrize("kill_after_sectors", [350, 2085], ids=["in-the-first-pass", "in-the-re-reads"])
def test_kill_9_inside_a_track_resumes_inside_it_and_ends_as_an_uninterrupted_rip(reference, tmp_path,
                                                                                 kill_after_sectors):
    fresh, fresh_out = reference
    killed = tmp_path
    profile = single_track(killed, "killed.log", sleep_scale=1.0)      # the drive's real time: a kill lands mid-track
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(killed / "out.iso"),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    trace, deadline = killed / "killed.log", time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if trace.exists() and (0, 1) in _reads(trace) and sum(rip_reads(trace).values()) >= kill_after_sectors:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and not (killed / "out.cue").exists()
    kept = killed / "out.audio-parts" / "01.reads"
    assert kept.stat().st_size > 0 and not (killed / "out.audio-parts" / "01.json").exists()

    profile = single_track(killed, "resume.log")                       # the resume's reads alone
    out = json.loads(run_acquire("image", f"sim:{profile}", killed / "out.iso", "--json", check_code=3).stdout)
    assert out["resumed"] and out["audio"]["kept_tracks"] == []
    for name in OUTPUTS:
        assert (killed / name).read_bytes() == (fresh / name).read_bytes(), name
    assert audio_figures(killed) == audio_figures(fresh)        # reads, re-reads, C2, unresolved runs, sums
    assert out["audio"]["unresolved"] == fresh_out["audio"]["unresolved"] != []
    assert not (killed / "out.audio-parts").exists()
    run_acquire("verify", killed / "out.iso.custody.sqlite", "--no-record", check_code=0)

    # measured on the drive's side: what the killed run read and the resume read again
    f, k, r = (rip_reads(p) for p in (fresh / "fresh.log", killed / "killed.log", killed / "resume.log"))
    assert not +(f - k - r)                        # the two runs together read all the uninterrupted rip did
    # and no more, but for the READ in flight at the kill (the drive answered, the journal did not
    # hold it yet): one command of at most MAX_SECTORS sectors, read again once each
    twice = k + r - f
    assert len(twice) <= MAX_SECTORS and set(twice.values()) <= {1}, twice
    uninterrupted, before, after = (sum(c.values()) for c in (f, k, r))
    assert before >= kill_after_sectors and after == uninterrupted - before + sum(twice.values())
    assert out["audio"]["continued_tracks"] == {"1": before - sum(twice.values())}   # answered by the journal
    print(f"\nkill after {kill_after_sectors} sectors: the uninterrupted rip read {uninterrupted}, the killed run "
          f"{before}, the resume {after} ({sum(twice.values())} read twice)")


# --- the journal alone, on the simulated drive -------------------------------------------------------

START = 10


@pytest.fixture(params=["", "c2 = false\nsubchannel = false\n"], ids=["c2-and-q", "no-c2-no-subchannel"])
def drive_profile(tmp_path, request):
    make_wav(tmp_path / "a.wav", 60, 7)
    profile = tmp_path / "p.toml"
    profile.write_text(f'[drive]\nread_offset = 6\noverread = true\n{request.param}[disc]\nprofile = "cd-rom"\n'
                       f'[[track]]\nnumber = 1\nmode = "mode1"\nstart = 0\nsectors = {START}\n'
                       f'[[track]]\nnumber = 2\nmode = "audio"\nstart = {START}\nimage = "a.wav"\n'
                       '[[damage]]\nlbas = "30"\nkind = "unstable"\n[[damage]]\nlbas = "50"\nkind = "unreadable"\n')
    return profile


def rip_through(profile: Path, where: Path, key: dict, far_lba: int = 0) -> tuple:
    drive = open_drive(f"sim:{profile}")
    try:
        drive.wait_ready()
        reader = CddaReader(drive).probe(START)
        reads = journal.Journal(where, key, reader.c2, 16 if reader.subchannel == 2 else 96 if reader.subchannel else 0)
        proxy = journal.JournaledReader(reader, reads.open())
        try:
            rip = TrackRipper(proxy, proxy.clock, disc_end=START + 60, far_lba=far_lba,
                              recorded=lambda lba: START <= lba < START + 60).rip(START, START + 60, 6)
        finally:
            reads.close()
    finally:
        drive.close()
    # the drive time is not compared: the first live READ after a cut pays a seek the first run did not
    figures = (rip.pcm, rip.unresolved, rip.reads, rip.rereads, rip.c2_samples, rip.q_errors, rip.budget_spent,
               rip.subchannel)
    return figures, proxy.replayed_sectors, proxy.live_sectors


def test_a_journal_cut_anywhere_replays_its_whole_records_and_the_rip_ends_the_same(drive_profile, tmp_path):
    where = tmp_path / "02.reads"
    whole, replayed, live = rip_through(drive_profile, where, {"k": 1})
    assert replayed == 0 and live > 120 and whole[1]                        # two passes and re-reads; damage left
    full = where.read_bytes()
    again = rip_through(drive_profile, where, {"k": 1})
    assert again == (whole, live, 0) and where.read_bytes() == full          # all answered by the journal
    header = len(journal.MAGIC) + len(json.dumps({"k": 1}).encode()) + 1
    for cut in sorted({header, header + 5, len(full) // 3, len(full) // 2 + 7, len(full) - 1}):
        where.write_bytes(full[:cut])                                       # a kill or a power cut at `cut`
        figures, replayed, live_now = rip_through(drive_profile, where, {"k": 1})
        assert figures == whole, cut
        assert replayed + live_now == live and (replayed > 0) == (cut > header + 40)


def test_a_journal_under_another_key_is_not_replayed(drive_profile, tmp_path):
    where = tmp_path / "02.reads"
    whole, _, live = rip_through(drive_profile, where, {"offset": 6})
    figures, replayed, live_again = rip_through(drive_profile, where, {"offset": 7})
    assert (replayed, live_again) == (0, live) and figures == whole
    assert where.read_bytes().startswith(journal.MAGIC + b'{"offset": 7}\n')


def test_a_journal_whose_next_read_is_not_the_one_the_rip_asks_for_ends_there(drive_profile, tmp_path):
    # the same key, another cache defeat (LBA 5, not 0): the first READ differs, nothing is replayed
    where = tmp_path / "02.reads"
    whole, _, live = rip_through(drive_profile, where, {"k": 1})
    figures, replayed, live_again = rip_through(drive_profile, where, {"k": 1}, far_lba=5)
    assert (replayed, live_again, figures) == (0, live, whole)
    reads = journal.Journal(where, {"k": 1}, False, 0).open()          # only the commands are read here
    try:
        assert reads.command(0) == (5, 1, 0) and len(reads.records) > 100     # the journal of the second rip
    finally:
        reads.close()
