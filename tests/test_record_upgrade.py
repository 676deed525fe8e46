"""A record written by an earlier acquire (schema 1, fixtures/records/) resumes under this one.

The run that resumes it adds the tables and columns schema 2 has (layout, actions, budgets, BLAKE3
windows) inside its first transaction, says so in its `resume` event, and its seal covers them."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

from conftest import ROOT, run_acquire

from acquire.record import SCHEMA_VERSION, Record

OLD = ROOT / "fixtures" / "records"
PROFILE = """[drive]
vendor = "ACQUIRE"
product = "SIMULATED"
revision = "1.00"
serial = "SIM-OLD"

[disc]
profile = "cd-rom"
image = "source.bin"
"""


def test_a_schema_1_record_resumes_upgraded_and_verifies(tmp_path):
    for name in ("old.iso.custody.sqlite", "old.iso.seal.json"):
        shutil.copy2(OLD / name, tmp_path / name)
    data = random.Random(7).randbytes(1100 * 2048)          # the disc the record was made from
    (tmp_path / "source.bin").write_bytes(data)
    (tmp_path / "old.iso").write_bytes(data)
    (tmp_path / "old.toml").write_text(PROFILE)
    record_path = tmp_path / "old.iso.custody.sqlite"
    with Record.open_readonly(record_path) as record:
        assert record.meta()["schema_version"] == "1"
        columns = {c.name for c in record.db["runs"].columns}
        assert "stop_reason" not in columns and "actions" not in record.db.table_names()

    run_acquire("image", "sim:old.toml", "old.iso", "--yes", "--json", cwd=tmp_path,
                env={"ACQUIRE_NO_VALIDATE": "1"}, check_code=0)

    with Record.open_readonly(record_path) as record:
        assert record.meta()["schema_version"] == "1"          # meta is fixed at creation
        assert SCHEMA_VERSION == 2
        assert "actions" in record.db.table_names()
        assert {"stop_reason", "budget_json"} <= {c.name for c in record.db["runs"].columns}
        (resume,) = record.db.execute("SELECT details_json FROM events WHERE kind = 'resume'").fetchall()
    upgraded = json.loads(resume[0])["schema_upgraded"]
    assert "actions" in upgraded and "runs.stop_reason" in upgraded and "damage.fua" in upgraded
    done = run_acquire("verify", record_path, "--no-record", check_code=0)
    assert "PASS record: the seal matches every table" in done.stdout
    checker = subprocess.run([sys.executable, str(ROOT / "docs" / "check_record.py"), str(record_path)],
                             capture_output=True, text=True)
    assert checker.returncode == 0, checker.stdout


def test_a_kill_9_right_after_the_upgrade_leaves_a_record_that_is_interrupted_not_tampered(tmp_path):
    """The upgrade changes the tables' headers; the run seals them at once, so a kill before its end
    finds the record consistent up to that seal (resumable), never 'tampered'."""
    for name in ("old.iso.custody.sqlite", "old.iso.seal.json"):
        shutil.copy2(OLD / name, tmp_path / name)
    record_path = tmp_path / "old.iso.custody.sqlite"
    killer = ("import os, signal, sys\n"
              "from acquire.record import Record\n"
              "record = Record.open(sys.argv[1])\n"
              "record.begin_run(command='acquire image', device='sim:old.toml')\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", killer, str(record_path)], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    with Record.open_readonly(record_path) as record:
        kinds = [k for (k,) in record.db.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds[-2:] == ["seal", "resume"]
    checked = run_acquire("verify", record_path, "--no-record")
    assert "tampered" not in checked.stdout.lower(), checked.stdout
    assert "interrupted" in checked.stdout, checked.stdout
