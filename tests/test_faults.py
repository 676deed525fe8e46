"""Nothing lost: kill -9, Ctrl-C and a full disk each leave a consistent record and a resumable state."""
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_acquire, write_profile

SECTORS = 150_000
SLOWLY = {"sleep_scale": 0.05, "error_delay_s": 0.5}   # ~90 s of drive time in ~4.5 s: time to kill it mid-way
DAMAGE = [{"lbas": "20000-20003, 20019-20022, 20038-20041", "kind": "unreadable"},
          {"lbas": "90000-90031", "kind": "unreadable", "sense": "03/11/06"},
          {"lbas": "120500", "kind": "flaky", "failures": 1}]


def start(profile, image):
    return subprocess.Popen([sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(image), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def final_state(image):
    db = sqlite3.connect(f"{image}.custody.sqlite")
    rows = db.execute("SELECT start, count, state FROM sector_map ORDER BY start").fetchall()
    db.close()
    return hashlib.sha256(image.read_bytes()).hexdigest(), rows


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_image_and_map(tmp_path):
    profile = write_profile(tmp_path / "gen.toml", sectors=SECTORS, damage=DAMAGE, timing=SLOWLY)
    reference = tmp_path / "reference.iso"
    run_acquire("image", f"sim:{profile}", reference, check_code=3)
    expected = final_state(reference)

    image = tmp_path / "killed.iso"
    rng = random.Random(2026)
    kills = 0
    for _ in range(4):
        proc = start(profile, image)
        time.sleep(rng.uniform(0.5, 1.3))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate()
        if image.with_name(image.name + ".custody.sqlite").exists():   # the record survived, consistently
            assert run_acquire("verify", f"{image}.custody.sqlite").returncode in (0, 1)
    assert kills >= 2, "the runs ended before they could be killed: make the disc larger"
    done = run_acquire("image", f"sim:{profile}", image, "--json", check_code=3)
    assert json.loads(done.stdout)["resumed"] is True
    assert final_state(image) == expected
    verified = run_acquire("verify", f"{image}.custody.sqlite", "--json")
    assert verified.returncode == 0, verified.stdout


@pytest.mark.slow
def test_ctrl_c_exits_4_with_a_sealed_record_and_the_same_command_finishes(tmp_path):
    profile = write_profile(tmp_path / "gen.toml", sectors=SECTORS, timing=SLOWLY)
    image = tmp_path / "out.iso"
    proc = start(profile, image)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    if proc.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert proc.returncode == 4 and json.loads(out)["status"] == "interrupted"
    assert err.count("\n") == 1 and "resume" in err
    record = {c["name"]: c for c in json.loads(run_acquire("verify", f"{image}.custody.sqlite", "--json").stdout)["checks"]}
    assert record["record"]["ok"]
    done = run_acquire("image", f"sim:{profile}", image, "--json", check_code=0)
    assert json.loads(done.stdout)["resumed"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_too_little_space_is_refused_before_the_first_read_with_exit_1_then_runs_once_there_is_space(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        profile = write_profile(tmp_path / "disc.toml", sectors=3000)      # 6 MB
        done = run_acquire("image", f"sim:{profile}", mount / "out.iso", "--json")
        assert done.returncode == 1, done.stderr           # refused before the work: nothing to resume
        assert done.stderr.startswith("acquire: not enough space") and done.stderr.count("\n") == 1
        assert "image 6.1 MB" in done.stderr and "record" in done.stderr and "nothing was read" in done.stderr
        assert list(mount.iterdir()) == []                 # nothing written
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        done = run_acquire("image", f"sim:{profile}", mount / "out.iso", "--json", check_code=0)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory, name="filler"):
    """Write zeros into `directory` until its file system is full."""
    with open(directory / name, "wb") as f:
        block = bytes(1 << 16)
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_disk_that_fills_mid_run_exits_4_with_a_consistent_record_and_resumes(tmp_path):
    """The space plan passes; then something else fills the disk while the run goes on (here: a
    filler file once the image exists), and the record can no longer grow."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        profile = write_profile(tmp_path / "disc.toml", sectors=5000, timing={"sleep_scale": 0.02, "error_delay_s": 1.0},
                                damage=[{"lbas": f"{n}", "kind": "unreadable"} for n in range(100, 5000, 7)])
        proc = start(profile, mount / "out.iso")
        deadline = time.monotonic() + 60
        while not (mount / "out.iso").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        _fill(mount)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 4, (out, err)
        assert err.count("\n") == 1 and "full" in err or "space" in err
        (mount / "filler").unlink()
        done = run_acquire("image", f"sim:{profile}", mount / "out.iso", "--json", check_code=3)
        assert json.loads(done.stdout)["resumed"]
        assert run_acquire("verify", mount / "out.iso.custody.sqlite").returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
