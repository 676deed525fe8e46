"""`acquire image` on the simulated drive: the contract of docs/reference/contracts.md, checked from the outside."""
import hashlib
import json
import sqlite3
import subprocess
import zlib

import pytest

from conftest import SECTOR, make_disc, run_acquire, write_profile

UNREADABLE = {1000, 1001, 1002, 1003, 1013, 1014, 1015, 1016, 1026, 1027, 1028, 1029, 2990}


def every_kind_of_damage():
    return [
        {"lbas": "1000-1003, 1013-1016, 1026-1029", "kind": "unreadable"},     # a scratch, once a turn
        {"lbas": "2990", "kind": "unreadable", "sense": "03/11/05"},
        {"lbas": "2000", "kind": "flaky", "failures": 2},
        {"lbas": "2500-2501", "kind": "slow", "delay_s": 1.5},
        {"lbas": "3500", "kind": "unstable"},
    ]


def image(tmp_path, profile, name="out.iso", *extra, code=None):
    done = run_acquire("image", f"sim:{profile}", tmp_path / name, "--json", "--case", "C-1", *extra,
                       check_code=code)
    return done, (json.loads(done.stdout) if done.stdout.strip() else None)


def test_an_undamaged_disc_images_bit_exact_with_exit_0_and_checkable_sums(tmp_path):
    source = make_disc(tmp_path / "disc.iso", 3000)
    profile = write_profile(tmp_path / "clean.toml", "disc.iso")
    _, out = image(tmp_path, profile, code=0)
    written = (tmp_path / "out.iso").read_bytes()
    assert written == source
    assert out["hashes"]["sha256"] == hashlib.sha256(source).hexdigest()
    assert out["hashes"]["md5"] == hashlib.md5(source).hexdigest()
    assert out["hashes"]["sha1"] == hashlib.sha1(source).hexdigest()
    assert out["hashes"]["crc32"] == f"{zlib.crc32(source):08x}"
    assert (tmp_path / "out.iso.sfv").read_text().splitlines()[-1] == f"out.iso {zlib.crc32(source):08X}"
    assert (out["status"], out["unreadable"], out["unreadable_ranges"]) == ("complete", 0, [])
    assert (out["sectors"], out["sector_size"], out["recovered"]) == (3000, SECTOR, 3000)
    assert out["elapsed_s"] > 0
    for tool, suffix in (("sha256sum", ".sha256"), ("md5sum", ".md5")):
        check = subprocess.run([tool, "-c", f"out.iso{suffix}"], cwd=tmp_path, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("strategy", ["adaptive", "linear"])
def test_every_damage_kind_leaves_exactly_the_unreadable_sectors_zeroed_and_exit_3(tmp_path, strategy):
    source = make_disc(tmp_path / "disc.iso", 4000)
    profile = write_profile(tmp_path / "damaged.toml", "disc.iso", damage=every_kind_of_damage())
    _, out = image(tmp_path, profile, "out.iso", "--strategy", strategy, code=3)
    written = (tmp_path / "out.iso").read_bytes()
    assert len(written) == len(source)
    bad = {lba for first, last in out["unreadable_ranges"] for lba in range(first, last + 1)}
    assert bad == UNREADABLE
    assert out["unreadable"] == len(UNREADABLE) and out["status"] == "partial"
    for lba in range(4000):
        got = written[lba * SECTOR:(lba + 1) * SECTOR]
        if lba in UNREADABLE:
            assert got == bytes(SECTOR), lba
        elif lba != 3500:                     # unstable: reads, but never the same bytes
            assert got == source[lba * SECTOR:(lba + 1) * SECTOR], lba
    assert out["hashes"]["sha256"] == hashlib.sha256(written).hexdigest()
    check = subprocess.run(["sha256sum", "-c", "out.iso.sha256"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_linear_damage_log_names_each_failed_read_with_its_sense_and_phase(tmp_path):
    make_disc(tmp_path / "disc.iso", 4000)
    profile = write_profile(tmp_path / "damaged.toml", "disc.iso", damage=every_kind_of_damage())
    image(tmp_path, profile, "out.iso", "--strategy", "linear", code=3)
    db = sqlite3.connect(tmp_path / "out.iso.custody.sqlite")
    rows = db.execute("SELECT lba, count, phase, sense, outcome FROM damage").fetchall()
    senses = {r[3] for r in rows}
    assert {"03/11/00", "03/11/05"} <= senses
    assert {r[2] for r in rows} >= {"copy", "trim"}
    single = {r[0] for r in rows if r[1] == 1}
    assert UNREADABLE <= single              # every unreadable sector was tried alone at least once
    assert 2000 in {lba for r in rows for lba in range(r[0], r[0] + r[1])}   # the flaky one failed, then read


def test_a_scratch_burst_costs_few_failed_reads_in_the_linear_copy_phase(tmp_path):
    make_disc(tmp_path / "disc.iso", 4000)
    profile = write_profile(tmp_path / "scratch.toml", "disc.iso", damage=[every_kind_of_damage()[0]])
    image(tmp_path, profile, "out.iso", "--strategy", "linear", code=3)
    db = sqlite3.connect(tmp_path / "out.iso.custody.sqlite")
    (copy_failures,) = db.execute("SELECT count(*) FROM damage WHERE phase = 'copy'").fetchone()
    assert copy_failures <= 4


def test_running_again_resumes_and_changes_nothing(tmp_path):
    make_disc(tmp_path / "disc.iso", 4000)
    profile = write_profile(tmp_path / "damaged.toml", "disc.iso", damage=every_kind_of_damage()[:2])
    _, first = image(tmp_path, profile, code=3)
    before = (tmp_path / "out.iso").read_bytes()
    _, second = image(tmp_path, profile, code=3)
    assert second["resumed"] is True
    assert second["unreadable_ranges"] == first["unreadable_ranges"]
    assert (tmp_path / "out.iso").read_bytes() == before


def test_a_different_disc_is_refused_on_resume_with_one_line(tmp_path):
    make_disc(tmp_path / "disc.iso", 3000)
    make_disc(tmp_path / "other.iso", 3000, seed=99)
    image(tmp_path, write_profile(tmp_path / "a.toml", "disc.iso"), code=0)
    done, _ = image(tmp_path, write_profile(tmp_path / "b.toml", "other.iso"), code=1)
    assert done.stderr.count("\n") == 1 and "not the disc" in done.stderr


def test_a_drive_that_disconnects_mid_run_exits_4_and_the_same_command_finishes(tmp_path):
    source = make_disc(tmp_path / "disc.iso", 6000)
    profile = write_profile(tmp_path / "gone.toml", "disc.iso", events=[{"after_commands": 60, "kind": "disconnect"}])
    done, out = image(tmp_path, profile, code=4)
    assert out["status"] == "interrupted" and "resume" in done.stderr
    assert done.stderr.count("\n") == 1
    write_profile(tmp_path / "gone.toml", "disc.iso")        # reconnected
    _, out = image(tmp_path, profile, code=0)
    assert out["resumed"] and (tmp_path / "out.iso").read_bytes() == source


def test_an_existing_image_without_a_record_is_never_overwritten(tmp_path):
    make_disc(tmp_path / "disc.iso", 100)
    (tmp_path / "out.iso").write_bytes(b"precious")
    done, _ = image(tmp_path, write_profile(tmp_path / "a.toml", "disc.iso"), code=2)
    assert (tmp_path / "out.iso").read_bytes() == b"precious"
    assert "no record" in done.stderr


def test_a_bad_profile_is_one_line_with_exit_1(tmp_path):
    (tmp_path / "bad.toml").write_text("[disc]\nprofile = \n")
    done = run_acquire("image", f"sim:{tmp_path / 'bad.toml'}", tmp_path / "x.iso")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "line" in done.stderr
    assert not (tmp_path / "x.iso").exists()


def test_the_exported_mapfile_is_accepted_by_ddrescuelog_with_the_same_bad_sectors(tmp_path):
    import shutil
    import pytest
    if shutil.which("ddrescuelog") is None:
        pytest.skip("ddrescuelog (Debian gddrescue) is not installed")
    make_disc(tmp_path / "disc.iso", 4000)
    profile = write_profile(tmp_path / "damaged.toml", "disc.iso", damage=every_kind_of_damage())
    image(tmp_path, profile, code=3)
    run_acquire("map", tmp_path / "out.iso.custody.sqlite", "--export-ddrescue", tmp_path / "out.map", check_code=0)
    listed = subprocess.run(["ddrescuelog", "-b", "2048", "-l-", str(tmp_path / "out.map")],
                            capture_output=True, text=True, check=True)
    assert {int(x) for x in listed.stdout.split()} == UNREADABLE


def test_a_run_stopped_after_its_record_but_before_its_image_resumes(tmp_path):
    source = make_disc(tmp_path / "disc.iso", 300)
    profile = write_profile(tmp_path / "a.toml", "disc.iso")
    image(tmp_path, profile, code=0)
    (tmp_path / "out.iso").unlink()
    done, _ = image(tmp_path, profile, code=1)             # finished sectors, image gone: refused
    assert "exists but its image" in done.stderr


def test_a_run_killed_after_making_its_record_but_before_its_image_resumes(tmp_path, monkeypatch):
    from acquire.imaging import run as acquisition

    source = make_disc(tmp_path / "disc.iso", 300)
    profile = write_profile(tmp_path / "a.toml", "disc.iso")

    def killed(self, identity):
        raise SystemExit(137)                               # as if kill -9 landed here
    monkeypatch.setattr(acquisition.Run, "execute", killed)
    with pytest.raises(SystemExit):
        acquisition.acquire_image(f"sim:{profile}", tmp_path / "out.iso", acquisition.ImageOptions())
    assert (tmp_path / "out.iso.custody.sqlite").exists() and not (tmp_path / "out.iso").exists()
    _, out = image(tmp_path, profile, code=0)
    assert out["resumed"] and (tmp_path / "out.iso").read_bytes() == source


def test_an_output_path_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path):
    make_disc(tmp_path / "disc.iso", 100)
    image(tmp_path, write_profile(tmp_path / "a.toml", "disc.iso"), code=0)
    done = run_acquire("map", tmp_path / "out.iso.custody.sqlite", "--export-ddrescue", tmp_path / "no" / "x.map")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "check the path" in done.stderr


def test_a_run_killed_while_its_record_is_being_made_leaves_no_record_and_runs_again(tmp_path, monkeypatch):
    """A record is made whole under a temporary name and renamed: a kill before the rename leaves
    no record (before, a kill between creating it and storing the medium left a record that no
    resume could open: 'has no medium recorded')."""
    from acquire.api import acquire_image
    from acquire.imaging import ImageOptions
    from acquire.record import store

    source = make_disc(tmp_path / "disc.iso", 300)
    profile = write_profile(tmp_path / "a.toml", "disc.iso")

    def killed(*args):
        raise SystemExit(137)                               # as if kill -9 landed before the rename
    monkeypatch.setattr(store.os, "replace", killed)
    with pytest.raises(SystemExit):
        acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions())
    assert not (tmp_path / "out.iso.custody.sqlite").exists() and not (tmp_path / "out.iso").exists()
    monkeypatch.undo()
    _, out = image(tmp_path, profile, code=0)
    assert not out["resumed"] and (tmp_path / "out.iso").read_bytes() == source
    assert sorted(p.name for p in tmp_path.iterdir() if "custody" in p.name) == ["out.iso.custody.sqlite"]
