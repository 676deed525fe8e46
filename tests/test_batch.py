"""`acquire batch` (docs/batch.md): the queue, the rule, the simulated autoloader and its faults, the
verdicts and piles, the manifest and the hash-chained batch log, and a kill -9 then a restart.

The discs are small ISO 9660 images (fixtures/make_batch_stack.py) in simulated drives, so a batch
of eight runs in seconds; the goal's batch of 50 is benchmarks/batch_fifty.py.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from acquire.batch.identity import Identity, mismatches, toc_text, which_job
from acquire.batch.log import BatchLog, replay
from acquire.batch.queue import load_queue
from acquire.batch.simchanger import SimChanger
from acquire.batch.verdict import from_result, parse_rule
from acquire.drive.sim.target import SimulatedDrive
from acquire.errors import UsageError
from acquire.record import chain

from conftest import ROOT, run_acquire, write_profile

sys.path.insert(0, str(ROOT / "fixtures"))
from make_batch_stack import Stack, make_stack  # noqa: E402

STALL = "5"          # seconds without progress: hung (the hung disc costs this much)


# --- the queue, the rule, the identity -----------------------------------------------------------

def test_a_csv_queue_gives_one_job_a_row_in_stack_order_with_typed_fields(tmp_path):
    q = tmp_path / "q.csv"
    q.write_text("id,case,label,capacity,retries,no_scrape,shelf\nCAT-1,C-9,VOL_A,300,2,yes,12\nCAT-2,C-9,,,,,\n")
    a, b = load_queue(q)
    assert (a.position, a.id, a.case, a.label, a.capacity, a.retries, a.no_scrape) == (1, "CAT-1", "C-9", "VOL_A", 300, 2, True)
    assert a.extra == {"shelf": "12"} and a.expects == {"label": "VOL_A", "capacity": 300}
    assert (b.position, b.label, b.expects) == (2, None, {})


def test_a_directory_queue_reads_its_toml_job_files_in_name_order(tmp_path):
    (tmp_path / "002.toml").write_text('id = "B"\nlabel = "X"\n')
    (tmp_path / "001.toml").write_text('case = "K"\n')          # id: the file's name
    assert [(j.id, j.case, j.label) for j in load_queue(tmp_path)] == [("001", "K", None), ("B", None, "X")]


@pytest.mark.parametrize("text, message", [
    ("id,label\nA,x\nA,y\n", "catalogue ID 'A' is also in"),
    ("id,capacity\nA,lots\n", "capacity 'lots' is not a number"),
    ("label\nx\n", "one of them id"),
    ("id\n../etc\n", "is not a catalogue ID"),
])
def test_a_bad_queue_is_one_usage_line_naming_the_row(tmp_path, text, message):
    q = tmp_path / "q.csv"
    q.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        load_queue(q)


def test_the_accept_rule_takes_complete_and_partial_up_to_a_number_of_unreadable_sectors():
    rule = parse_rule("complete,partial<=3")
    assert [rule.pile("complete", 0), rule.pile("partial", 3), rule.pile("partial", 4), rule.pile("failed", None),
            rule.pile("refused", None)] == ["accept", "accept", "reject", "reject", "reject"]
    assert parse_rule("complete").pile("partial", 1) == "reject" and parse_rule("partial").pile("partial", 10**6) == "accept"
    with pytest.raises(UsageError, match="is not complete, partial or partial<=N"):
        parse_rule("failed")


def test_verdicts_come_from_the_exit_code_and_the_result():
    partial = {"exit_code": 3, "outcome": {"status": "partial", "unreadable": 5, "unreadable_ranges": [[1, 5]]}}
    assert from_result(3, partial).verdict == "partial" and "5 sectors unreadable" in from_result(3, partial).reason
    wrong = {"exit_code": 1, "error": "another disc is in the drive", "error_type": "WrongDisc"}
    gone = {"exit_code": 4, "error": "sim stopped answering", "error_type": "DriveGone"}
    assert from_result(1, wrong).verdict == "refused" and from_result(4, gone).verdict == "failed"
    assert from_result(-9, None).reason == "acquire ended without a result (exit -9)"


def test_the_identity_check_names_each_field_that_differs_and_finds_the_job_the_disc_is(tmp_path):
    q = tmp_path / "q.csv"
    q.write_text("id,label,capacity,toc,created\nA,VOL_A,300,1:0 AA:300,2004\nB,VOL_B,310,,\n")
    a, b = load_queue(q)
    found = Identity(label="VOL_B", created="2004-05-01T10:00:00+00:00", capacity=310, profile="CD-ROM", toc="1:0 AA:310")
    assert mismatches(a, found) == ["label 'VOL_B' where the queue says 'VOL_A'", "capacity 310 where the queue says 300",
                                    "toc '1:0 AA:310' where the queue says '1:0 AA:300'"]
    assert mismatches(b, found) == [] and which_job(found, [a, b]) is b
    assert toc_text([{"track": 1, "start_lba": 0}, {"track": 0xAA, "start_lba": 310}]) == "1:0 AA:310"


# --- the simulated drive's hang and the simulated autoloader ----------------------------------------

def test_a_hang_event_blocks_every_command_from_then_on(tmp_path):
    drive = SimulatedDrive.from_profile(write_profile(tmp_path / "p.toml", sectors=100,
                                                      events=[{"after_commands": 1, "kind": "hang"}]))
    inquiry = bytes.fromhex("12 00 00 00 24 00")
    assert drive.execute(inquiry, data_in_length=36).status == 0
    blocked = threading.Thread(target=drive.execute, args=(inquiry,), kwargs={"data_in_length": 36}, daemon=True)
    blocked.start()
    blocked.join(0.5)
    assert blocked.is_alive()


def test_the_simulated_autoloader_loads_in_stack_order_and_models_its_faults(tmp_path):
    make_stack(Stack(tmp_path, 4, no_load={2}, double_pick={3}))
    changer = SimChanger(tmp_path / "changer.toml")
    device = dict(changer.drives())["A"]
    changer.load("A", "")
    assert "d01.iso" in Path(device[4:]).read_text() and 'serial = "SIM-A"' in Path(device[4:]).read_text()
    changer.unload("A", "accept", "")
    with pytest.raises(Exception, match="did not load"):
        changer.load("A", "")
    assert changer.tray("A")
    changer.unload("A", "reject", "")
    changer.load("A", "")                   # d03 picked with d04: the drive reads d04, on top
    assert "d04.iso" in Path(device[4:]).read_text()
    changer.unload("A", "reject", "")
    reopened = SimChanger(tmp_path / "changer.toml")      # the state survives the process
    assert reopened.pile_of() == {"d01": "accept", "d02": "reject", "d03": "reject", "d04": "reject"}
    with pytest.raises(Exception, match="stack is empty"):
        reopened.load("B", "")


def test_the_batch_log_is_a_chain_verify_checks_and_replay_reads(tmp_path):
    log = BatchLog(tmp_path / "b.sqlite")
    log.append("load", job="A", drive="D")
    log.append("verdict", job="A", drive="D", verdict="complete", reason="", pile="accept", chain_head="ab" * 32)
    log.seal()
    assert log.verify() == []
    state = replay(log.events())
    assert state.on_drive == {"D": "A"} and state.verdicts["A"]["pile"] == "accept"
    log.conn.execute("UPDATE events SET details_json = replace(details_json, 'accept', 'reject') WHERE id = 2")
    assert any(f.severity == "tampered" and f.row == "id=2" for f in log.verify())
    log.close()


# --- whole batches ----------------------------------------------------------------------------

def _batch(root: Path, *extra, env=None, check_code=None):
    return run_acquire("batch", root / "queue.csv", "-o", root / "out", "--changer", f"sim:{root / 'changer.toml'}",
                       "--stall", STALL, *extra, check_code=check_code, env=env)


def _manifest(root: Path) -> list[dict]:
    with open(root / "out" / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def _events(root: Path) -> list[dict]:
    log = BatchLog(root / "out" / "batch.sqlite")
    try:
        return log.events()
    finally:
        log.close()


def _check_batch(root: Path, stack: Stack) -> list[dict]:
    """Every disc on the pile the manifest says and the faults call for; the log intact and linking
    each record's chain head."""
    rows = _manifest(root)
    assert [r["id"] for r in rows] == [f"CAT-{p:04d}" for p in range(1, stack.count + 1)]
    on_pile = SimChanger(root / "changer.toml").pile_of()
    assert on_pile == stack.expected_piles()
    assert {r["evidence"]: r["pile"] for r in rows} == on_pile
    conn = sqlite3.connect(root / "out" / "batch.sqlite")
    assert chain.verify_connection(conn) == []
    conn.close()
    verdicts = {e["details"]["job"]: e["details"] for e in _events(root) if e["kind"] == "verdict"}
    for r in rows:
        if r["record"]:
            record = sqlite3.connect(root / "out" / r["record"])
            head = record.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
            record.close()
            assert verdicts[r["id"]]["chain_head"] == head
    return rows


def test_a_batch_on_two_drives_puts_every_disc_on_its_pile_whatever_its_fault(tmp_path):
    stack = make_stack(Stack(tmp_path, 9, damaged={2}, no_load={3}, double_pick={4}, hang={6}, gone={7}, broken={8}))
    done = _batch(tmp_path, check_code=3)
    rows = {r["id"]: r for r in _check_batch(tmp_path, stack)}
    assert [rows[f"CAT-{p:04d}"]["verdict"] for p in range(1, 10)] == [
        "complete", "partial", "failed", "refused", "refused", "failed", "failed", "failed", "complete"]
    assert rows["CAT-0008"]["reason"].startswith("internal error: TOMLDecodeError(")
    assert rows["CAT-0003"]["reason"].startswith("did not load")
    assert "it is CAT-0005" in rows["CAT-0004"]["reason"] and "in place of CAT-0004" in rows["CAT-0005"]["reason"]
    assert rows["CAT-0006"]["reason"] == f"hung: the drive made no progress for {STALL} s; the acquisition was ended"
    assert "stopped answering" in rows["CAT-0007"]["reason"]
    assert rows["CAT-0001"]["report"] == "CAT-0001/CAT-0001.report.html" and (tmp_path / "out" / rows["CAT-0001"]["report"]).exists()
    drives = {e["details"]["drive"] for e in _events(tmp_path) if e["kind"] == "start"}
    assert drives == {"A", "B"}
    assert "2 complete, 1 partial, 4 failed, 2 refused" in done.stdout
    # the same command again: nothing left to do, the same manifest
    _batch(tmp_path, check_code=3)
    assert list(rows.values()) == _manifest(tmp_path)


def test_a_batch_killed_with_sigkill_resumes_the_disc_in_progress_and_ends_with_the_same_manifest(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    stack = make_stack(Stack(a, 6, no_load={4}, sleep_scale=5.0))
    shutil.copytree(a, b)                       # the same discs, byte for byte, for the run that is killed
    _batch(a, check_code=3)
    reference = _manifest(a)

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "batch", str(b / "queue.csv"), "-o", str(b / "out"),
                             "--changer", f"sim:{b / 'changer.toml'}", "--stall", STALL], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    in_progress = _wait_for_a_disc_in_progress(b, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _batch(b, check_code=3)
    assert _manifest(b) == [{**r} for r in reference] and _check_batch(b, stack)
    record = sqlite3.connect(b / "out" / in_progress / f"{in_progress}.iso.custody.sqlite")
    kinds = [k for (k,) in record.execute("SELECT kind FROM events ORDER BY id")]
    record.close()
    assert "resume" in kinds                   # the disc in progress was resumed, not begun again
    starts = [e for e in _events(b) if e["kind"] == "start"]
    restarted = {e["details"]["job"] for e in starts if e["run_id"] == 2}
    finished_first = {e["details"]["job"] for e in _events(b) if e["kind"] == "verdict" and e["run_id"] == 1}
    assert in_progress in restarted and not (restarted & finished_first)


def _wait_for_a_disc_in_progress(root: Path, proc: subprocess.Popen) -> str:
    """A disc whose imaging has begun (its record holds a sector) while two others are finished."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch ended before it could be killed"
        try:
            events = _events(root)
        except sqlite3.Error:
            events = []
        verdicts = {e["details"]["job"] for e in events if e["kind"] == "verdict"}
        for e in events:
            job = e["details"].get("job")
            record = root / "out" / str(job) / f"{job}.iso.custody.sqlite"
            if e["kind"] == "start" and job not in verdicts and len(verdicts) >= 2 and record.exists():
                try:
                    conn = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
                    done = conn.execute("SELECT COUNT(*) FROM sector_map").fetchone()[0]
                    conn.close()
                except sqlite3.Error:
                    continue
                if done:
                    return job
        time.sleep(0.05)
    raise AssertionError("no disc was in progress within 60 s")


def test_without_a_changer_yes_never_prompts_and_is_refused(tmp_path):
    make_stack(Stack(tmp_path, 1))
    done = run_acquire("batch", tmp_path / "queue.csv", "-o", tmp_path / "out", "--drive", "sim:x.toml", "--yes",
                       check_code=2)
    assert done.stderr.strip() == ("acquire: without a changer each disc is inserted by the operator, and --yes never "
                                   "prompts; give --changer, or drop --yes, or name each disc's device in the queue")


def test_with_yes_each_job_may_name_its_own_simulated_drive(tmp_path):
    make_stack(Stack(tmp_path, 2))
    rows = (tmp_path / "queue.csv").read_text().splitlines()
    rows = [rows[0] + ",device"] + [f"{r},sim:{tmp_path / 'discs' / f'd{i:02d}.toml'}" for i, r in enumerate(rows[1:], 1)]
    (tmp_path / "queue.csv").write_text("\n".join(rows) + "\n")
    done = run_acquire("batch", tmp_path / "queue.csv", "-o", tmp_path / "out", "--yes", "--json", check_code=0)
    assert json.loads(done.stdout)["verdicts"] == {"complete": 2, "partial": 0, "failed": 0, "refused": 0}


def test_a_disc_over_its_time_budget_is_stopped_resumable_and_a_queue_longer_than_the_stack_is_refused(tmp_path):
    make_stack(Stack(tmp_path, 2, sleep_scale=40.0))          # d02 costs some 7 s of real time
    rows = (tmp_path / "queue.csv").read_text().splitlines()
    rows[0] += ",budget_s"
    rows[2] += ",5"
    rows.append("CAT-0003,SHELF-12,d03,DISC_03,85,")           # the stack has no third disc
    (tmp_path / "queue.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "discs" / "d01.toml").write_text((tmp_path / "discs" / "d01.toml").read_text()
                                                  .replace("sleep_scale = 40.0", "sleep_scale = 0.0"))
    started = time.monotonic()
    _batch(tmp_path, check_code=3)
    assert time.monotonic() - started < 15
    rows = {r["id"]: r for r in _manifest(tmp_path)}
    assert (rows["CAT-0002"]["verdict"], rows["CAT-0002"]["pile"]) == ("failed", "reject")
    assert rows["CAT-0002"]["reason"] == "timed out: the time budget of 5 s was used up (resumable)"
    record = sqlite3.connect(tmp_path / "out" / rows["CAT-0002"]["record"])
    assert [k for (k,) in record.execute("SELECT kind FROM events WHERE kind = 'run-end'")]   # closed, not killed
    record.close()
    assert (rows["CAT-0003"]["verdict"], rows["CAT-0003"]["pile"]) == ("refused", "none")
    assert rows["CAT-0003"]["reason"] == "not in the input stack: the stack ran out before it"


def test_a_full_disk_refuses_each_disc_and_the_batch_still_gives_every_one_its_verdict(tmp_path):
    make_stack(Stack(tmp_path, 3))
    out = tmp_path / "out"
    out.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(out)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        _batch(tmp_path, check_code=3)
        rows = _manifest(tmp_path)
        assert [(r["verdict"], r["pile"]) for r in rows] == [("refused", "reject")] * 3
        assert all(r["reason"].startswith(f"not enough space: {out} needs") for r in rows)
        assert SimChanger(tmp_path / "changer.toml").pile_of() == {"d01": "reject", "d02": "reject", "d03": "reject"}
    finally:
        subprocess.run(["umount", str(out)], capture_output=True)


def test_ctrl_c_pauses_the_discs_in_progress_without_a_verdict_and_the_next_run_resumes_them(tmp_path):
    make_stack(Stack(tmp_path, 2, sleep_scale=25.0))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "acquire", "batch", str(tmp_path / "queue.csv"), "-o",
                             str(tmp_path / "out"), "--changer", f"sim:{tmp_path / 'changer.toml'}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(e["kind"] == "start" for e in _events_or_none(tmp_path)) < 2:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4 and "acquire: batch stopped: interrupted (Ctrl-C); run the same command to resume" in err
    ended = {e["details"]["job"]: e["kind"] for e in _events(tmp_path) if e["kind"] in ("paused", "verdict")}
    assert set(ended) == {"CAT-0001", "CAT-0002"} and "paused" in ended.values()   # one may have finished first
    _batch(tmp_path, "--stall", "60", check_code=0)           # sleep_scale 25: a resume's set-up is slow
    resumed = [e["details"]["job"] for e in _events(tmp_path) if e["kind"] == "start" and e["run_id"] == 2]
    assert sorted(resumed) == sorted(job for job, kind in ended.items() if kind == "paused")
    assert [r["verdict"] for r in _manifest(tmp_path)] == ["complete", "complete"]


def _events_or_none(root: Path) -> list[dict]:
    try:
        return _events(root)
    except sqlite3.Error:
        return []


def test_a_drive_hung_on_two_discs_in_a_row_takes_no_more(tmp_path):
    make_stack(Stack(tmp_path, 3, hang={1, 2, 3}))
    config = tmp_path / "changer.toml"
    config.write_text(config.read_text().replace('[[drive]]\nname = "B"\nserial = "SIM-B"\n', ""))
    done = _batch(tmp_path, "--stall", "2", check_code=4)
    assert "A: hung on 2 discs in a row: it takes no more (power-cycle it, then run the batch again)" in done.stderr
    assert [r["reason"].split(";")[0] for r in _manifest(tmp_path)] == ["hung: the drive made no progress for 2 s"] * 2
    assert [e["details"] for e in _events(tmp_path) if e["kind"] == "drive-retired"] == [{"drive": "A", "hangs": 2}]
    assert "2 failed, 0 refused; piles {'reject': 2}; 1 unfinished" in done.stdout
