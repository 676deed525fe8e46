"""`acquire image` on a multisession disc analyses every session the disc's layout names (not only
those a scan of the image finds) and takes the volume label from the last session, as a drive and a
mount show it (docs/fs.md "Every session")."""
from __future__ import annotations

import json
import sqlite3

import pytest

import multisession as ms
from conftest import run_acquire

pytestmark = pytest.mark.skipif(bool(ms.tools_missing()), reason=f"needs {', '.join(ms.TOOLS)}")


def _label(record):
    with sqlite3.connect(record) as db:
        return db.execute("SELECT volume_label FROM medium").fetchone()[0]


def test_the_volume_label_is_the_last_sessions_in_the_record_and_in_info(tmp_path):
    disc = ms.cd_r_two_sessions(tmp_path / "cd")
    out = tmp_path / "out.iso"
    run_acquire("image", f"sim:{disc.profile}", out, "--json", check_code=0)
    assert _label(tmp_path / "out.iso.custody.sqlite") == "MS_SESSION_2"
    info = json.loads(run_acquire("info", f"sim:{disc.profile}", "--json", check_code=0).stdout)
    assert info["medium"]["volume_label"] == "MS_SESSION_2"
    # an open last session, past READ CAPACITY: still its label, as imaging reads it to its end
    ms.write_profile(disc)
    disc.profile.write_text(disc.profile.read_text() + "open = true\n")       # the last [[track]]'s key
    info = json.loads(run_acquire("info", f"sim:{disc.profile}", "--json", check_code=0).stdout)
    assert info["medium"]["capacity"] < disc.starts[1] and info["medium"]["volume_label"] == "MS_SESSION_2"


def test_a_border_beyond_the_image_scan_window_is_analysed_from_the_layout(tmp_path):
    """Borders 40,000 sectors apart: further than fs/sessions.py's scan of the image looks, but the
    disc's TOC and track information place them, and imaging hands those starts to the analysis."""
    from acquire.fs.sessions import SCAN_WINDOW_SECTORS
    disc = ms.dvd_r_three_borders(tmp_path / "dvd", border_zone=SCAN_WINDOW_SECTORS + 8_000)
    run_acquire("image", f"sim:{disc.profile}", tmp_path / "out.iso", "--json", check_code=0)
    record = tmp_path / "out.iso.custody.sqlite"
    report = json.loads(run_acquire("report", record, check_code=0).stdout)
    assert [s["start_lba"] for s in report["filesystem"]["sessions"]] == disc.starts
    assert any(c["path"] == "/gone.bin" and c["change"] == "removed" for c in report["filesystem"]["session_changes"])
    assert _label(record) == "DVD_BORDER_3"


def test_overwriteable_media_of_one_track_still_shows_every_session_xorriso_wrote_in_it(tmp_path):
    """A DVD+RW's layout is one track from LBA 0; the sessions inside it are found in the image, both
    by imaging and by `acquire analyze` (which takes the starts from the record's layout_tracks)."""
    from acquire.fs.analyze import analyze_image
    disc = ms.overwriteable_stdio(tmp_path / "rw")
    sessions = {fs.details.get("session_start") for fs in analyze_image(disc.image, None, session_starts=[0]).filesystems}
    assert set(disc.starts) <= sessions
    run_acquire("image", f"sim:{disc.profile}", tmp_path / "out.iso", "--json", check_code=0)
    report = json.loads(run_acquire("report", tmp_path / "out.iso.custody.sqlite", check_code=0).stdout)
    assert [s["start_lba"] for s in report["filesystem"]["sessions"]] == disc.starts
