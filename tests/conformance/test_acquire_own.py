"""What a forensic acquisition of an optical disc needs beyond the DA assertions, in their style (ACQ).

The CFTT DA specification leaves these to other documents (write blocking) or does not state them
(repeatability, resuming); docs/conformance.md says which is which.
"""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cftt
from cftt import clean_fixture, damaged_fixture  # noqa: F401  (the module's fixtures)
from acquire.cli import cli
from acquire.drive import guard
from acquire.drive.guard import ALLOWED_OPCODES, GuardedTransport
from acquire.drive.sim.target import SimulatedDrive
from acquire.errors import CommandRefused
from conftest import ROOT, make_disc, run_acquire, write_profile
from test_guard import EXPECTED_ALLOWED

WRITE_10 = bytes.fromhex("2a 00 00 00 00 10 00 00 01 00")     # WRITE(10) of one sector at LBA 16


def state(acquisition_or_image):
    image = getattr(acquisition_or_image, "image", acquisition_or_image)
    db = sqlite3.connect(f"file:{image}.custody.sqlite?mode=ro", uri=True)
    try:
        hashes = dict(db.execute("SELECT algorithm, hex FROM hashes WHERE scope = 'image'"))
        runs = db.execute("SELECT start, count, state FROM sector_map ORDER BY start").fetchall()
    finally:
        db.close()
    return hashlib.sha256(image.read_bytes()).hexdigest(), hashes, runs


def test_ACQ_01_a_clean_acquisition_reports_no_errors(clean, tmp_path):
    assert clean.code == 0 and clean.out["status"] == "complete"
    assert (clean.out["unreadable"], clean.out["unreadable_ranges"], clean.out["recovered"]) == (0, [], cftt.SECTORS)
    with clean.db() as db:
        assert db.execute("SELECT count(*) FROM damage").fetchone() == (0,)
        assert db.execute("SELECT sum(failed_reads), sum(sectors_bad) FROM passes").fetchone() == (0, 0)
    run_acquire("report", clean.record, "-o", tmp_path / "r.json", check_code=0)
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["damage"]["reads"], report["map"]["unreadable_ranges"], report["map"]["counts"]["bad"]) == (0, [], 0)


def test_ACQ_02_the_source_is_not_written_to(tmp_path, monkeypatch):
    make_disc(tmp_path / "disc.bin", 3000)
    before = hashlib.sha256((tmp_path / "disc.bin").read_bytes()).hexdigest()
    profile = write_profile(tmp_path / "disc.toml", "disc.bin", damage=cftt.damage_profile_entries(), drive=cftt.DRIVE)
    seen = []
    real = SimulatedDrive.execute

    def spy(self, cdb, **kwargs):
        seen.append((bytes(cdb), bytes(kwargs.get("data_out", b""))))
        return real(self, cdb, **kwargs)

    monkeypatch.setattr(SimulatedDrive, "execute", spy)
    # --speed and the damage make acquire send both commands that carry data out (SET CD SPEED, MODE SELECT)
    result = CliRunner().invoke(cli, ["image", f"sim:{profile}", str(tmp_path / "out.iso"), "--speed", "8", "--json"])
    assert result.exit_code == 3, result.output
    opcodes = {cdb[0] for cdb, _ in seen}
    assert opcodes <= EXPECTED_ALLOWED == set(ALLOWED_OPCODES) and 0x28 in opcodes
    for cdb, data_out in seen:             # each one is a command the read-only guard lets through
        guard.check(cdb, data_out)
    assert hashlib.sha256((tmp_path / "disc.bin").read_bytes()).hexdigest() == before
    # and a write never reaches the drive: the guard refuses it first
    drive = SimulatedDrive.from_profile(str(profile), name="sim")
    seen.clear()
    with pytest.raises(CommandRefused, match="2Ah"):
        GuardedTransport(drive).execute(WRITE_10, data_out=bytes(2048))
    drive.close()
    assert seen == []


def test_ACQ_03_acquiring_the_same_disc_twice_gives_the_same_hashes(damaged, tmp_path):
    again = cftt.acquire_disc(tmp_path, damage=cftt.damage_profile_entries())   # the same disc, in another drive run
    assert again.source.read_bytes() == damaged.source.read_bytes()
    assert again.code == damaged.code == 3
    assert again.out["hashes"] == damaged.out["hashes"]
    assert state(again) == state(damaged)


def test_ACQ_04_an_interrupted_and_resumed_acquisition_gives_the_uninterrupted_image(damaged, tmp_path):
    sectors = 30_000
    make_disc(tmp_path / "disc.bin", sectors, seed=11)
    damage = [{"lbas": "9000-9003, 21000", "kind": "unreadable"}]
    drive = {"serial": "SIM-CFTT", "trace": "reads.log"}
    profile = tmp_path / "disc.toml"
    write_profile(profile, "disc.bin", damage=damage, drive=drive)
    reference = tmp_path / "reference.iso"
    run_acquire("image", f"sim:{profile}", reference, check_code=3)
    (tmp_path / "reads.log").unlink()
    # the same drive, slowed so that a simulated second is 0.2 s: time to interrupt it mid-way
    write_profile(profile, "disc.bin", damage=damage, drive=drive, timing={"sleep_scale": 0.2})

    image = tmp_path / "interrupted.iso"
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(image), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        cftt.wait_for_lines(tmp_path / "reads.log", 100)     # ~3,000 sectors read, far from the end
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 4 and json.loads(out)["status"] == "interrupted", (proc.returncode, out, err)
    assert err.count("\n") == 1 and "resume" in err
    with sqlite3.connect(f"file:{image}.custody.sqlite?mode=ro", uri=True) as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
        assert db.execute("SELECT count(*) FROM sector_map WHERE state = 0").fetchone()[0] > 0   # really unfinished
    write_profile(profile, "disc.bin", damage=damage, drive=drive)          # full speed again, then the same command
    resumed = run_acquire("image", f"sim:{profile}", image, "--json", check_code=3)
    assert json.loads(resumed.stdout)["resumed"] is True
    assert state(image) == state(reference)
    assert image.read_bytes() == reference.read_bytes()
