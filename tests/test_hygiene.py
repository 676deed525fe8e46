"""Retry hygiene and the time budget (docs/rescue.md "Retry hygiene", "The time budget"), on the
simulated drive: FUA and the cache flush in the drive's own trace, a speed change that recovers
sectors that read only slowly, a confused drive caught, budgets that stop on time and resume."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acquire.drive.device import open_drive
from acquire.imaging import ImageOptions, acquire_image
from acquire.progress import progress_text
from acquire.report.model import build as build_report
from acquire.imaging.sink import Progress
from acquire.rescue import SectorMap, State
from acquire.rescue.budget import Estimate, parse_duration
from conftest import ROOT, make_disc, run_acquire, write_profile

SECTORS = 3000
SCRATCH = "1000-1010"
SLOW_ONLY = "2000, 2500"         # fail at the 24x top speed, read at 8x or slower
DAMAGE = [{"lbas": SCRATCH, "kind": "unreadable"}, {"lbas": SLOW_ONLY, "kind": "flaky", "max_speed_x": 8}]


def final_map(image):
    with sqlite3.connect(f"{image}.custody.sqlite") as db:
        return db.execute("SELECT start, count, state FROM sector_map ORDER BY start").fetchall()


def trace_lines(path):
    return path.read_text().splitlines()


def failed_sectors(lines):
    """Every LBA a failed READ touched, in the order of the trace."""
    out = set()
    for line in lines:
        f = line.split()
        if len(f) >= 3 and f[2] == "err":
            out.update(range(int(f[0]), int(f[0]) + int(f[1])))
    return out


@pytest.fixture
def disc(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    return write_profile(tmp_path / "p.toml", "disc.iso", damage=DAMAGE, drive={"serial": "SIM-H", "trace": "t.log"})


# -- the simulated drive ----------------------------------------------------------------------------

def test_a_sector_with_max_speed_x_fails_at_top_speed_and_reads_after_set_cd_speed(disc, tmp_path):
    drive = open_drive(f"sim:{disc}")
    drive.medium()
    assert not drive.read(2000, 1).ok and not drive.read(2000, 1).ok
    assert drive.set_read_speed(8) == "SET CD SPEED"
    assert drive.read(2000, 1, fua=True).ok
    assert drive.flush_cache()
    drive.wait(1.5)
    drive.close()
    assert drive.clock_s >= 1.5
    assert trace_lines(tmp_path / "t.log") == ["2000 1 err 03/11/00", "2000 1 err 03/11/00", "speed 8",
                                               "2000 1 ok fua", "0 0 ok fua"]


def test_a_dvd_drive_is_slowed_with_set_streaming(tmp_path):
    profile = write_profile(tmp_path / "d.toml", sectors=4096, profile="dvd-rom", drive={"trace": "t.log"})
    drive = open_drive(f"sim:{profile}")
    drive.medium()
    assert drive.read_speed_x() == pytest.approx(8, rel=0.01)
    assert drive.set_read_speed(2) == "SET STREAMING" and drive.read_speed_x() == pytest.approx(2, rel=0.01)
    assert drive.set_read_speed(None) == "SET STREAMING" and drive.read_speed_x() == pytest.approx(8, rel=0.01)
    drive.close()


def test_bytes_of_a_read_that_ended_in_check_condition_are_never_kept(tmp_path):
    # resid_zero_on_failure: the completion carries a full-length buffer with the CHECK CONDITION, as a
    # transport that trusted resid would hand up (docs/reference/qemu.md)
    make_disc(tmp_path / "disc.iso", 200)
    profile = write_profile(tmp_path / "q.toml", "disc.iso", damage=[{"lbas": "50", "kind": "unreadable"}],
                            drive={"resid_zero_on_failure": True, "information": "none"})
    drive = open_drive(f"sim:{profile}")
    done = drive.command(bytes.fromhex("28 00 00 00 00 30 00 00 04 00"), 4 * 2048)
    assert done.check_condition and len(done.data) == 4 * 2048      # the bytes are there ...
    result = drive.read(48, 4)
    assert not result.ok and result.data == b""                      # ... and never kept
    drive.close()
    outcome = acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions())
    assert outcome.unreadable_ranges == [(50, 50)]
    assert final_map(tmp_path / "out.iso")[1] == (50, 1, int(State.BAD))


# -- retry hygiene ---------------------------------------------------------------------------------------

def test_fua_is_set_on_every_re_read_and_a_cache_flush_comes_before_the_retries(disc, tmp_path):
    outcome = acquire_image(f"sim:{disc}", tmp_path / "out.iso", ImageOptions(retries=2))
    lines = trace_lines(tmp_path / "t.log")
    seen_failed: set[int] = set()
    for line in lines:
        f = line.split()
        if len(f) < 3:
            continue
        lba, count = int(f[0]), int(f[1])
        if seen_failed & set(range(lba, lba + count)):
            assert line.endswith(" fua"), f"a re-read without FUA: {line}"
        if f[2] == "err":
            seen_failed.update(range(lba, lba + count))
    # before the first retry: another speed, then the flush at the LBA of the first re-read, then it
    retry = lines.index("speed 6")
    first = lines[retry + 2].split()[0]
    assert lines[retry + 1] == f"{first} 0 ok fua" and lines[retry + 2].endswith(" fua")
    assert first in {str(x) for x in range(1000, 1011)} | {"2000", "2500"}
    assert outcome.unreadable_ranges == [(1000, 1010)]
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        actions = db.execute("SELECT phase, pass_no, reason, fua FROM actions").fetchall()
        pause = db.execute("SELECT action, duration_s FROM actions WHERE reason LIKE 'pause%'").fetchall()
        refua = db.execute("SELECT count(*), sum(fua) FROM damage WHERE phase = 'retry' AND outcome = 'failed'").fetchone()
        retry_passes = db.execute("SELECT count(*) FROM events WHERE kind = 'pass-start' "
                                  "AND json_extract(details_json, '$.phase') = 'retry'").fetchone()[0]
    reasons = [r for _, _, r, _ in actions]
    # the adaptive engine retries the damage's edges first, so 2 retries may take more passes than 2
    assert retry_passes >= 2
    assert pause == [("pause", 2.0)] * retry_passes                   # one before each retry pass
    assert any(r.startswith("pause 2 s before retry pass 1") for r in reasons)
    assert any(r.startswith("read speed 6x (SET CD SPEED) before retry pass 1, the pass before at 24x") for r in reasons)
    assert any(r.startswith("read speed 3x (SET CD SPEED) before retry pass 2, the pass before at 6x") for r in reasons)
    assert ("retry", 1, f"cache flush (a zero-length READ(10) with FUA at LBA {first}) before retry pass 1, so that "
            "no re-read is answered from the drive's cache", 1) in actions
    assert refua[0] > 0 and refua[0] == refua[1]                     # every failed retry row says FUA
    assert lines[-1] == "speed 24"                                   # the speed as the run found it


@pytest.mark.parametrize("strategy", ["adaptive", "linear"])
def test_a_speed_change_between_retry_passes_recovers_sectors_that_read_only_slowly(disc, tmp_path, strategy):
    with_hygiene = acquire_image(f"sim:{disc}", tmp_path / "a.iso", ImageOptions(strategy=strategy))
    assert with_hygiene.unreadable_ranges == [(1000, 1010)]
    without = acquire_image(f"sim:{disc}", tmp_path / "b.iso", ImageOptions(hygiene=False, strategy=strategy))
    assert without.unreadable_ranges == [(1000, 1010), (2000, 2000), (2500, 2500)]
    with sqlite3.connect(tmp_path / "a.iso.custody.sqlite") as db:
        (phase,), = set(db.execute("SELECT phase FROM provenance WHERE start <= 2000 AND 2000 < start + count"))
    assert phase == "retry"


def _confused_disc(tmp_path, kind):
    make_disc(tmp_path / "disc.iso", SECTORS)
    clean = write_profile(tmp_path / "clean.toml", "disc.iso", damage=DAMAGE[:1], drive={"serial": "SIM-H"})
    confused = write_profile(tmp_path / "confused.toml", "disc.iso", damage=DAMAGE[:1], drive={"serial": "SIM-H"},
                             events=[{"after_commands": 0, "after_errors": 2, "kind": kind}])
    return clean, confused


@pytest.mark.parametrize("kind", ["confused-zeros", "confused-errors"])
def test_a_confused_drive_stops_the_run_with_exit_4_and_the_record_resumes(tmp_path, kind):
    clean, confused = _confused_disc(tmp_path, kind)
    reference = tmp_path / "reference.iso"
    run_acquire("image", f"sim:{clean}", reference, check_code=3)
    image = tmp_path / "out.iso"
    done = run_acquire("image", f"sim:{confused}", image, check_code=4)
    line, = [x for x in done.stderr.splitlines() if x.startswith("acquire:")]
    assert "looks confused" in line and "eject the disc and reinsert it (or move it to another drive)" in line
    with sqlite3.connect(f"{image}.custody.sqlite") as db:
        (status, why), = db.execute("SELECT status, stop_reason FROM runs").fetchall()
        confused_rows = db.execute("SELECT reason FROM actions WHERE action = 'drive-confused'").fetchall()
    assert status == "interrupted" and why.startswith("drive-confused: ") and len(confused_rows) == 1
    # consistent: the interrupted run's end sealed the record, and every table matches that seal
    assert build_report(Path(f"{image}.custody.sqlite"))["record"]["verify"]["status"] == "intact"
    truth = (tmp_path / "disc.iso").read_bytes()
    written = image.read_bytes()
    failed = set()
    for start, count, state in final_map(image):       # nothing the confused drive said is trusted
        if state == State.FINISHED:
            assert written[start * 2048:(start + count) * 2048] == truth[start * 2048:(start + count) * 2048]
        elif state != State.UNTRIED:
            failed.update(range(start, start + count))
    assert failed <= set(range(1000, 1011))           # its failures were put back: only the disc's remain
    # the disc reinserted (the drive reset): the same command resumes and ends as a clean run did
    done = run_acquire("image", f"sim:{clean}", image, "--json", check_code=3)
    assert json.loads(done.stdout)["resumed"] is True
    assert final_map(image) == final_map(reference)


def test_zeros_that_are_the_disc_s_own_are_not_taken_for_a_confused_drive(tmp_path):
    data = bytearray(make_disc(tmp_path / "disc.iso", SECTORS))
    data[1011 * 2048:1200 * 2048] = bytes((1200 - 1011) * 2048)     # zero-filled just after the scratch
    (tmp_path / "disc.iso").write_bytes(bytes(data))
    profile = write_profile(tmp_path / "p.toml", "disc.iso", damage=DAMAGE[:1])
    outcome = acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions())
    assert outcome.status == "partial" and outcome.unreadable_ranges == [(1000, 1010)]
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        checks = [r for (r,) in db.execute("SELECT reason FROM actions WHERE action = 'drive-check'")]
    assert checks and all("reads as before" in r for r in checks)


def test_an_edited_action_row_makes_verify_fail(disc, tmp_path):
    acquire_image(f"sim:{disc}", tmp_path / "out.iso", ImageOptions())
    record = tmp_path / "out.iso.custody.sqlite"
    run_acquire("verify", record, check_code=0)
    with sqlite3.connect(record) as db:
        db.execute("UPDATE actions SET reason = 'nothing happened' WHERE id = 1")
    done = run_acquire("verify", record, check_code=1)
    assert "actions" in done.stdout + done.stderr


# -- the time budget ---------------------------------------------------------------------------------------

def test_max_drive_time_stops_on_time_with_the_map_resumable_and_the_report_listing_what_was_not_tried(disc, tmp_path):
    reference = acquire_image(f"sim:{disc}", tmp_path / "ref.iso", ImageOptions())
    image = tmp_path / "out.iso"
    done = run_acquire("image", f"sim:{disc}", image, "--json", "--max-drive-time", "40s", check_code=3)
    out = json.loads(done.stdout)
    # no READ starts after the budget: it is exceeded by at most one failed read (8 s + seek + transfer)
    assert 40 <= out["elapsed_s"] <= 40 + 8.5
    assert out["stop_reason"].startswith("max-drive-time: the drive-time budget of 40 s is spent")
    assert out["not_tried_ranges"] and out["status"] == "partial"
    untried = {x for a, b in out["not_tried_ranges"] for x in range(a, b + 1)}
    assert untried == {s for s, c, st in final_map(image) if st == State.UNTRIED for s in range(s, s + c)}
    with sqlite3.connect(f"{image}.custody.sqlite") as db:
        (budget, why), = db.execute("SELECT budget_json, stop_reason FROM runs").fetchall()
    assert json.loads(budget) == {"max_drive_time_s": 40.0, "until": None} and why == out["stop_reason"]
    report = tmp_path / "r.md"
    run_acquire("report", f"{image}.custody.sqlite", "-o", report, check_code=0)
    text = report.read_text()
    first, last = out["not_tried_ranges"][0]
    assert f"Not tried ({len(untried)} sectors" in text and f"{first}-{last}" in text
    assert "stopped: max-drive-time: the drive-time budget of 40 s is spent" in text
    run_acquire("verify", f"{image}.custody.sqlite", check_code=0)       # sealed, consistent
    # a later run goes on from the map and ends where an unbudgeted run ended
    again = run_acquire("image", f"sim:{disc}", image, "--json", check_code=3)
    assert json.loads(again.stdout)["stop_reason"] == "done"
    assert final_map(image) == final_map(reference.image)


@pytest.mark.parametrize("strategy, stops_before", [("adaptive", "probe"), ("linear", "retry")])
def test_until_good_stops_before_the_passes_that_read_only_predicted_unreadable_sectors(disc, tmp_path, strategy,
                                                                                        stops_before):
    image = tmp_path / "out.iso"
    out = json.loads(run_acquire("image", f"sim:{disc}", image, "--json", "--until", "good", "--strategy", strategy,
                                 check_code=3).stdout)
    assert out["stop_reason"].startswith(f"until-good: before {stops_before} pass 1: ")
    with sqlite3.connect(f"{image}.custody.sqlite") as db:
        phases = {p for (p,) in db.execute("SELECT phase FROM passes")}
    assert stops_before not in phases and "retry" not in phases
    # what is left untried lies beside the scratch, where the model predicts it bad
    assert all(990 <= a and b <= 1040 for a, b in out["not_tried_ranges"])
    # 2000 and 2500 read only slowly, which the retry passes would have found: still failed, and a
    # later run without the budget recovers them
    assert {(2000, 2000), (2500, 2500)} <= set(map(tuple, out["unreadable_ranges"]))
    again = json.loads(run_acquire("image", f"sim:{disc}", image, "--json", "--strategy", strategy,
                                   check_code=3).stdout)
    assert again["unreadable_ranges"] == [[1000, 1010]]


def test_kill_9_during_the_retry_passes_then_resume_gives_the_same_final_map(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    damage = [{"lbas": "600-640", "kind": "unreadable"}, {"lbas": SLOW_ONLY, "kind": "flaky", "max_speed_x": 4}]
    fast = write_profile(tmp_path / "fast.toml", "disc.iso", damage=damage)
    reference = tmp_path / "reference.iso"
    run_acquire("image", f"sim:{fast}", reference, "--retries", "2", check_code=3)
    expected = final_map(reference)
    slow = write_profile(tmp_path / "slow.toml", "disc.iso", damage=damage,
                         drive={"serial": "SIM-T", "trace": "slow.log"}, timing={"sleep_scale": 0.004})
    image = tmp_path / "killed.iso"
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "image", f"sim:{slow}", str(image), "--retries", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    deadline, killed = time.monotonic() + 60, False
    log = tmp_path / "slow.log"
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        lines = log.read_text().splitlines() if log.exists() else []
        if "speed 6" in lines and len(lines) > lines.index("speed 6") + 8:    # inside retry pass 1, in the scratch
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
    proc.communicate()
    assert killed, "the run ended before its retry passes"
    done = run_acquire("image", f"sim:{fast}", image, "--json", "--retries", "2", check_code=3)
    assert json.loads(done.stdout)["resumed"] is True
    assert final_map(image) == expected
    assert [(s, c) for s, c, st in expected if st == State.BAD] == [(600, 41)]


# -- pieces ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [("90m", 5400), ("2h", 7200), ("30s", 30), ("45", 45), ("1.5h", 5400),
                                           ("10min", 600)])
def test_durations_are_read_in_seconds_minutes_and_hours(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "5d", "m", "1h30m"])
def test_a_duration_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_bad_duration_is_a_usage_error(disc, tmp_path):
    done = run_acquire("image", f"sim:{disc}", tmp_path / "x.iso", "--max-drive-time", "soon", check_code=2)
    assert "soon" in done.stderr and not (tmp_path / "x.iso").exists()


def test_the_estimate_counts_good_sectors_at_their_cost_and_bad_ones_at_a_failed_read_each(tmp_path):
    smap = SectorMap(1000)
    smap.set(0, 400, State.FINISHED)
    smap.set(400, 100, State.BAD)            # a fifth of what was tried failed
    est = Estimate(unit=1, retries=1)
    est.saw(True, 400, 4.0)                  # 0.01 s a good sector
    est.saw(False, 1, 8.0)
    to_good, to_end = est.remaining(smap)
    # 500 untried: 400 good x 0.01 s + 100 bad x 8 s (one failed read each, unit 1)
    assert to_good == pytest.approx(400 * 0.01 + 100 * 8.0)
    # then each of the 100 expected bad twice (alone, one retry), and the 100 bad once more
    assert to_end == pytest.approx(to_good + 100 * 2 * 8.0 + 100 * 8.0)
    line = progress_text(Progress("harvest", 1, 1000, 400, 100, 500, 12.0, 400 * 2048, to_good, to_end), 1.0)
    assert "to good ~13 min  to end ~53 min" in line


def test_the_estimate_asks_the_damage_model_which_untried_sectors_are_bad():
    from acquire.rescue.budget import model_bad_fraction
    from acquire.rescue.damage import DamageModel
    from acquire.rescue.geometry import Geometry
    geom = Geometry.nominal("cd")
    at = lambda n: int(geom.lba_at(n + 0.3))         # noqa: E731  the scratch's sector on turn n
    smap = SectorMap(int(geom.lba_at(400)))
    smap.set(0, smap.sectors, State.FINISHED)
    for n in range(100, 141):                        # a radial scratch, 3 sectors wide, turns 100-140 ...
        smap.set(at(n) - 1, 3, State.UNTRIED if 121 <= n <= 130 else State.BAD)    # ... not yet read on 121-130
    far = int(geom.lba_at(300))
    smap.set(far, 30, State.UNTRIED)                 # and 30 untried sectors nowhere near it
    model = DamageModel(smap, "cd", 1, turns=16)
    fraction = model_bad_fraction(model, smap, 1)
    assert 0.25 <= fraction <= 0.75                  # the scratch's 30 predicted bad, the far 30 not
    est = Estimate(unit=1, retries=1)
    est.predict_bad = lambda: fraction
    est.saw(True, 100, 1.0)
    to_good, _ = est.remaining(smap)
    assert to_good == pytest.approx(60 * (1 - fraction) * 0.01 + 60 * fraction * 8.0)


def test_a_drive_that_ignores_the_speed_command_is_said_to(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    profile = write_profile(tmp_path / "p.toml", "disc.iso", damage=DAMAGE[:1],
                            drive={"serial": "SIM-I", "set_speed_ignored": True})
    acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions())
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        (reason,), = db.execute("SELECT reason FROM actions WHERE reason LIKE 'read speed 6x%'").fetchall()
    assert reason.endswith("; the drive answered GOOD but reports 24x")


def test_a_failed_run_says_why_in_the_record(tmp_path):
    make_disc(tmp_path / "disc.iso", 500)
    profile = write_profile(tmp_path / "p.toml", "disc.iso", damage=[{"lbas": "300", "kind": "unreadable",
                                                                      "sense": "04/44/00"}])
    done = run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", check_code=1)
    assert "hardware error" in done.stderr
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        (status, why), = db.execute("SELECT status, stop_reason FROM runs").fetchall()
    assert status == "failed" and why.startswith("failed: ") and "hardware error" in why
