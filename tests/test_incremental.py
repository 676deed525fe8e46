"""Incremental re-acquisition: session 3 appended to an acquired two-session CD-R is the only
session read again (the READ trace shows it, beside a sample of the earlier sessions), the image
hashes equal a full acquisition's, both records verify, and a disc whose session 1 differs is
refused (docs/imaging.md "Incremental")."""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import run_acquire
from layout_discs import SECTOR, profile_text, session_images


@pytest.fixture(scope="module")
def discs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental")
    sessions = session_images(tmp, 3)
    (tmp / "two.toml").write_text(profile_text(sessions[:2], extra_disc="finalized = false",
                                               drive='serial = "SIM-I"\ntrace = "two.log"'))
    (tmp / "three.toml").write_text(profile_text(sessions, drive='serial = "SIM-I"\ntrace = "three.log"'))
    done = run_acquire("image", f"sim:{tmp / 'two.toml'}", tmp / "old.iso", "--json", check_code=0)
    return tmp, sessions, json.loads(done.stdout)


def test_only_the_appended_session_is_read_and_the_image_equals_a_full_acquisition(discs):
    tmp, sessions, old = discs
    done = run_acquire("image", f"sim:{tmp / 'three.toml'}", tmp / "new.iso", "--json",
                       "--incremental-from", tmp / "old.iso.custody.sqlite", check_code=0)
    new = json.loads(done.stdout)
    reads = [line.split() for line in (tmp / "three.log").read_text().splitlines() if line[0].isdigit()]
    start3 = sessions[2][0]
    earlier = [(int(lba), int(count)) for lba, count, *_ in reads if int(lba) < start3]
    # in the earlier sessions: the new record's 16-sector identity probe and single-sector samples only
    assert earlier and all(count == 1 or (lba, count) == (16, 16) for lba, count in earlier)
    assert sum(c for lba, c in earlier if c == 1) <= 16
    later = sum(int(count) for lba, count, result, *_ in reads if int(lba) >= start3 and result == "ok")
    assert later >= sessions[2][1].stat().st_size // SECTOR
    full = json.loads(run_acquire("image", f"sim:{tmp / 'three.toml'}", tmp / "full.iso", "--json",
                                  check_code=0).stdout)
    assert new["hashes"] == full["hashes"] and (tmp / "new.iso").read_bytes() == (tmp / "full.iso").read_bytes()
    with sqlite3.connect(tmp / "new.iso.custody.sqlite") as db:
        (details,) = db.execute("SELECT details_json FROM events WHERE kind = 'incremental'").fetchone()
    link = json.loads(details)
    assert link["earlier_hashes"]["sha256"] == old["hashes"]["sha256"] and link["sessions_reused"] == [1, 2]
    assert link["earlier_chain_head"] and link["sectors_copied"] > 0 and all(s["same"] for s in link["sample"])
    for record in ("old.iso.custody.sqlite", "new.iso.custody.sqlite"):
        run_acquire("verify", tmp / record, check_code=0)


def test_a_disc_whose_first_session_differs_is_refused(discs, tmp_path):
    tmp, sessions, _ = discs
    for number, (_, image) in enumerate(sessions, 1):
        data = bytearray(image.read_bytes())
        if number == 1:
            data[100] ^= 0xFF                     # LBA 0, the first sector the sample compares
        (tmp_path / image.name).write_bytes(bytes(data))
    (tmp_path / "three.toml").write_text(profile_text(sessions))
    done = run_acquire("image", f"sim:{tmp_path / 'three.toml'}", tmp_path / "new.iso",
                       "--incremental-from", tmp / "old.iso.custody.sqlite", check_code=1)
    assert "LBA 0 on the disc differs from" in done.stderr
    assert not (tmp_path / "new.iso.custody.sqlite").exists()


def test_a_disc_with_no_session_added_is_refused_with_what_to_do_instead(discs):
    tmp, _, _ = discs
    done = run_acquire("image", f"sim:{tmp / 'two.toml'}", tmp / "again.iso",
                       "--incremental-from", tmp / "old.iso.custody.sqlite", check_code=2)
    assert "the disc has no session beyond the 2 of" in done.stderr and "resume that acquisition" in done.stderr


def test_resuming_onto_a_disc_with_sessions_appended_points_to_incremental(discs):
    tmp, _, _ = discs
    done = run_acquire("image", f"sim:{tmp / 'three.toml'}", tmp / "old.iso", check_code=1)
    assert "is not the disc in" in done.stderr and "--incremental-from" in done.stderr
