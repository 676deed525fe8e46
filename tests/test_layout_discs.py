"""Discs as they are recorded, through the simulated drive: a two-session TAO CD-R and a
three-border DVD-R image with exit 0, their run-out blocks, session gaps and unrecorded areas
named not recorded (never unreadable), and a scratch that is the only damage."""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import run_acquire
from layout_discs import SECTOR, expected_image, profile_text, session_images


def acquire(tmp_path, profile_path, code):
    done = run_acquire("image", f"sim:{profile_path}", tmp_path / "out.iso", "--json", check_code=code)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def two_sessions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cdr")
    return tmp, session_images(tmp, 2)


def not_recorded_rows(record):
    with sqlite3.connect(record) as db:
        return db.execute("SELECT start, count, kind FROM layout_extents ORDER BY start").fetchall()


def test_a_healthy_two_session_tao_cd_r_exits_0_with_its_gaps_not_recorded(two_sessions):
    tmp, sessions = two_sessions
    (s1, i1), (s2, i2) = sessions
    n1, n2 = i1.stat().st_size // SECTOR, i2.stat().st_size // SECTOR
    profile = tmp / "cdr.toml"
    profile.write_text(profile_text(sessions))
    out = acquire(tmp, profile, 0)
    end = s2 + n2 + 2
    assert (out["status"], out["unreadable"], out["unreadable_ranges"]) == ("complete", 0, [])
    assert out["sectors"] == end and out["not_recorded"] == 2 + (s2 - n1 - 2) + 2
    assert (tmp / "out.iso").read_bytes() == expected_image(sessions, end)
    assert not_recorded_rows(tmp / "out.iso.custody.sqlite") == [
        (n1, 2, "run-out"), (n1 + 2, s2 - n1 - 2, "session-gap"), (s2 + n2, 2, "run-out")]
    assert s2 - (n1 + 2) == 11_400          # the real gap after a CD's first session
    reads = (tmp / "reads.log").read_text().splitlines()
    touched = [tuple(map(int, line.split()[:2])) for line in reads if line[0].isdigit()]
    # no READ ever went into the session gap; the run-out blocks were each read once, alone
    assert not any(lba < s2 and lba + count > n1 + 2 for lba, count in touched)
    assert [line for line in reads if line.startswith(f"{n1} ")] == [f"{n1} 1 err 05/64/00"] * 2   # READ(10), READ CD


def test_a_scratch_on_the_two_session_disc_is_the_only_damage(two_sessions, tmp_path):
    _, sessions = two_sessions
    for start, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    (s1, i1), (s2, i2) = sessions
    scratch = f"{s2 + 20}-{s2 + 23}"
    profile = tmp_path / "scratched.toml"
    profile.write_text(profile_text(sessions, damage=[f'lbas = "{scratch}"\nkind = "unreadable"']))
    out = acquire(tmp_path, profile, 3)
    assert out["unreadable_ranges"] == [[s2 + 20, s2 + 23]] and out["unreadable"] == 4
    n1 = i1.stat().st_size // SECTOR
    assert [kind for _, _, kind in not_recorded_rows(tmp_path / "out.iso.custody.sqlite")] == [
        "run-out", "session-gap", "run-out"]
    assert out["not_recorded"] == 2 + (s2 - n1 - 2) + 2


def test_a_three_border_dvd_r_with_unrecorded_space_exits_0(tmp_path):
    borders = session_images(tmp_path, 3, gaps=(6_144, 6_144), run_out=0)
    (b3, i3) = borders[-1]
    end = b3 + i3.stat().st_size // SECTOR
    profile = tmp_path / "dvdr.toml"
    profile.write_text(profile_text(borders, profile="dvd-r", write="sao", extra_disc=f"capacity = {end + 5000}\n"
                                    "finalized = false"))
    out = acquire(tmp_path, profile, 0)
    assert (out["status"], out["sectors"], out["unreadable"]) == ("complete", end + 5000, 0)
    kinds = [(kind, count) for _, count, kind in not_recorded_rows(tmp_path / "out.iso.custody.sqlite")]
    assert kinds == [("session-gap", 6_144), ("session-gap", 6_144), ("unrecorded", 5000)]
    assert (tmp_path / "out.iso").read_bytes() == expected_image(borders, end + 5000)


def layout_figures(record):
    with sqlite3.connect(record) as db:
        figures = dict(db.execute("SELECT name, value FROM layout_figures"))
        return figures, [m for (m,) in db.execute("SELECT message FROM layout_disagreements")]


def test_an_open_session_past_read_capacity_is_imaged_to_its_recorded_end(two_sessions, tmp_path):
    _, sessions = two_sessions
    for _, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    (s1, i1), (s2, i2) = sessions
    n1, n2 = i1.stat().st_size // SECTOR, i2.stat().st_size // SECTOR
    profile = tmp_path / "open.toml"
    profile.write_text(profile_text(sessions, open_last=True))
    out = acquire(tmp_path, profile, 0)
    end = s2 + n2 + 2
    assert (out["status"], out["sectors"], out["layout"]["capacity"]) == ("complete", end, n1 + 2)
    assert (tmp_path / "out.iso").read_bytes() == expected_image(sessions, end)
    figures, disagreements = layout_figures(tmp_path / "out.iso.custody.sqlite")
    assert (figures["read_capacity"], figures["recorded_end"], figures["toc_leadout"]) == (str(n1 + 2), str(end), str(n1 + 2))
    assert any(m.startswith(f"READ CAPACITY ({n1 + 2}) ends before the last recorded sector") for m in disagreements)
    # re-read against the disc: the same disc though READ CAPACITY stops short; no READ into the gap
    (tmp_path / "reads.log").unlink()
    done = run_acquire("verify", tmp_path / "out.iso.custody.sqlite", "--source", f"sim:{profile}", check_code=0)
    assert f"same disc; {n1 + n2} finished sectors re-read, 0 differ, 0 failed to read; 0 of 0 unreadable" in done.stdout
    reads = [tuple(map(int, line.split()[:2])) for line in (tmp_path / "reads.log").read_text().splitlines()
             if line[0].isdigit()]
    assert not any(lba < s2 and lba + count > n1 + 2 for lba, count in reads)


def test_a_mode_2_session_is_read_by_read_cd_after_read_10_is_refused(two_sessions, tmp_path):
    _, sessions = two_sessions
    for _, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    (s1, i1), (s2, i2) = sessions
    profile = tmp_path / "xa.toml"
    profile.write_text(profile_text(sessions, modes={2: "mode2-form1"}))
    out = acquire(tmp_path, profile, 0)
    end = s2 + i2.stat().st_size // SECTOR + 2
    assert (tmp_path / "out.iso").read_bytes() == expected_image(sessions, end)
    assert any("05/64/00" in note and "READ CD" in note for note in out.get("fallbacks", []) or
               [e for e in _events(tmp_path / "out.iso.custody.sqlite", "fallback")])


def _events(record, kind):
    with sqlite3.connect(record) as db:
        return [d for (d,) in db.execute("SELECT details_json FROM events WHERE kind = ?", (kind,))]


def test_every_report_names_the_not_recorded_areas_apart_from_damage(two_sessions, tmp_path):
    import shutil
    import subprocess
    from conftest import ROOT
    tmp, sessions = two_sessions
    record = tmp / "out.iso.custody.sqlite"           # the healthy two-session run above
    if not record.exists():                           # run alone: make it
        (tmp / "cdr.toml").write_text(profile_text(sessions))
        acquire(tmp, tmp / "cdr.toml", 0)
    for suffix in (".md", ".html", ".json", ".xml"):
        run_acquire("report", record, "-o", tmp_path / f"r{suffix}", check_code=0)
    md = (tmp_path / "r.md").read_text()
    assert "Unreadable ranges (LBA, inclusive): none." in md and "| session-gap |" in md
    assert md.count("| run-out |") == 2 and "### Sessions (map per session)" in md
    assert (tmp_path / "r.html").read_text().count("<svg") == 4              # 2 maps + 1 per session
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["map"]["unreadable_ranges"] == [] and len(report["map"]["not_recorded_ranges"]) == 2
    assert [s["counts"].get("not-recorded", 0) for s in report["layout"]["sessions"]] == [2, 2]
    xml = (tmp_path / "r.xml").read_text()
    assert xml.count('acquire:scope="not-recorded"') == 3 and 'acquire:scope="unreadable"' not in xml
    xsd = ROOT.parent / "shared" / "reference" / "dfxml" / "dfxml.xsd"
    if shutil.which("xmllint") and xsd.is_file():
        done = subprocess.run(["xmllint", "--noout", "--schema", str(xsd), str(tmp_path / "r.xml")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_an_audio_track_is_named_not_recorded_in_the_iso_and_the_data_track_images_whole(tmp_path):
    """A CD-Extra-like disc: an audio track, then a data track in a second session. The ISO image
    keeps the audio track's LBAs zero-filled (audio goes to BIN/CUE, not here), named `audio`."""
    (tmp_path / "a.raw").write_bytes((bytes(range(256)) * 10)[:2352] * 300)
    data = bytes(range(1, 256)) * (2048 * 400 // 255) + bytes(2048 * 400 % 255)
    (tmp_path / "d.iso").write_bytes(data)
    start2 = 300 + 11_400
    (tmp_path / "extra.toml").write_text(
        '[drive]\nserial = "SIM-A"\n[disc]\nprofile = "cd-rom"\n'
        '[[track]]\nnumber = 1\nsession = 1\nstart = 0\nmode = "audio"\nimage = "a.raw"\n'
        f'[[track]]\nnumber = 2\nsession = 2\nstart = {start2}\nimage = "d.iso"\n')
    out = acquire(tmp_path, tmp_path / "extra.toml", 0)
    assert out["sectors"] == start2 + 400 and out["unreadable"] == 0
    assert not_recorded_rows(tmp_path / "out.iso.custody.sqlite") == [(0, 300, "audio"), (300, 11_400, "session-gap")]
    image = (tmp_path / "out.iso").read_bytes()
    assert image[:start2 * SECTOR] == bytes(start2 * SECTOR) and image[start2 * SECTOR:] == data


def test_sectors_past_the_iso_volume_end_are_read_up_to_the_recorded_end_and_the_figures_kept(two_sessions, tmp_path):
    """An image that runs on past its ISO 9660 volume (an appended partition, padding): acquire reads
    to the track's end, not the volume's, and records both sizes."""
    import random
    _, sessions = two_sessions
    (start, image) = sessions[0]
    body = image.read_bytes() + random.Random(9).randbytes(50 * SECTOR)
    (tmp_path / "padded.iso").write_bytes(body)
    n = len(body) // SECTOR
    (tmp_path / "padded.toml").write_text('[drive]\nserial = "SIM-P"\n[disc]\nprofile = "cd-r"\n'
                                          '[[track]]\nnumber = 1\nstart = 0\nimage = "padded.iso"\nwrite = "tao"\n')
    out = acquire(tmp_path, tmp_path / "padded.toml", 0)
    assert out["sectors"] == n + 2 and (tmp_path / "out.iso").read_bytes()[:len(body)] == body
    figures, disagreements = layout_figures(tmp_path / "out.iso.custody.sqlite")
    volume = int(figures["iso9660_session_1_volume_space"])
    assert volume == image.stat().st_size // SECTOR and int(figures["session_1_past_volume_end"]) == 50
    assert disagreements == []


def test_two_copies_of_a_multisession_disc_merge_complete_with_the_gaps_still_not_recorded(two_sessions, tmp_path):
    _, sessions = two_sessions
    for _, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    (s1, i1), (s2, i2) = sessions
    for copy, lbas in (("a", f"{s2 + 5}"), ("b", f"{s2 + 9}")):      # each copy lacks one other sector
        (tmp_path / f"{copy}.toml").write_text(profile_text(sessions, damage=[f'lbas = "{lbas}"\nkind = "unreadable"'],
                                                            drive=f'serial = "SIM-{copy}"'))
        run_acquire("image", f"sim:{tmp_path / f'{copy}.toml'}", tmp_path / f"{copy}.iso", check_code=3)
    done = run_acquire("merge", tmp_path / "a.iso.custody.sqlite", tmp_path / "b.iso.custody.sqlite",
                       "-o", tmp_path / "merged.iso", "--json", check_code=0)
    out = json.loads(done.stdout)
    assert (out["status"], out["unread"], out["unread_ranges"]) == ("complete", 0, [])
    end = s2 + i2.stat().st_size // SECTOR + 2
    assert (tmp_path / "merged.iso").read_bytes() == expected_image(sessions, end)
    # the merged record carries the disc's layout, as each copy recorded it
    assert not_recorded_rows(tmp_path / "merged.iso.custody.sqlite") == not_recorded_rows(tmp_path / "a.iso.custody.sqlite")
    tracks = "SELECT track, session, start, end, audio, data_mode FROM layout_tracks ORDER BY start"
    with sqlite3.connect(tmp_path / "merged.iso.custody.sqlite") as m, sqlite3.connect(tmp_path / "a.iso.custody.sqlite") as a:
        assert m.execute(tracks).fetchall() == a.execute(tracks).fetchall() and len(a.execute(tracks).fetchall()) == 2
    run_acquire("verify", tmp_path / "merged.iso.custody.sqlite", check_code=0)


def test_the_summary_line_names_the_not_recorded_sectors_apart_from_the_unreadable(two_sessions, tmp_path):
    _, sessions = two_sessions
    for _, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    (tmp_path / "p.toml").write_text(profile_text(sessions, drive='serial = "SIM-L"'))
    done = run_acquire("image", f"sim:{tmp_path / 'p.toml'}", tmp_path / "out.iso", check_code=0)
    (s1, i1), (s2, i2) = sessions
    n1, n2 = i1.stat().st_size // SECTOR, i2.stat().st_size // SECTOR
    assert done.stdout.splitlines()[0] == (f"complete: {n1 + n2} of {s2 + n2 + 2} sectors read, 0 unreadable, "
                                           f"{s2 + n2 + 2 - n1 - n2} not recorded (no data there by design)")


def test_copies_whose_layouts_disagree_are_refused_naming_the_layout_and_nothing_is_written(two_sessions, tmp_path):
    """One disc burned track-at-once, the other session-at-once from the same images: the TAO copy's
    run-out blocks make its layout another one, and merge refuses with exit 1 (docs/reference/contracts.md "Exit codes")."""
    _, sessions = two_sessions
    for _, image in sessions:
        (tmp_path / image.name).write_bytes(image.read_bytes())
    for copy, write in (("a", "tao"), ("b", "sao")):
        (tmp_path / f"{copy}.toml").write_text(profile_text(sessions, write=write, drive=f'serial = "SIM-{copy}"'))
        run_acquire("image", f"sim:{tmp_path / f'{copy}.toml'}", tmp_path / f"{copy}.iso", check_code=0)
    done = run_acquire("merge", tmp_path / "a.iso.custody.sqlite", tmp_path / "b.iso.custody.sqlite",
                       "-o", tmp_path / "merged.iso", check_code=1)
    first = done.stderr.strip().splitlines()[0]
    assert "not of the same pressing" in first and "layout" in first, done.stderr
    assert "run-out" in done.stderr                 # the detail names the extents that differ
    assert not (tmp_path / "merged.iso").exists() and not (tmp_path / "merged.iso.custody.sqlite").exists()
