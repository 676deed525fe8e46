"""Commands that only read the evidence leave its bytes as they were: the record's sha256 is the
same before and after `acquire report` (every format), `acquire map` and `acquire verify
--no-record`; plain `acquire verify` appends its result as a chained event and says so."""
import hashlib
import json
import sqlite3

import pytest

from conftest import make_disc, run_acquire, write_profile


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def acquired(tmp_path):
    make_disc(tmp_path / "disc.iso", 2000)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso", damage=[{"lbas": "300-331", "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--json", check_code=3)
    return tmp_path / "out.iso.custody.sqlite"


def test_report_map_and_verify_no_record_leave_the_record_and_image_bytes_unchanged(acquired, tmp_path):
    image = tmp_path / "out.iso"
    record_before, image_before = sha256(acquired), sha256(image)
    stat_before = acquired.stat()
    for out in ("r.html", "r.md", "r.json", "r.xml"):
        run_acquire("report", acquired, "-o", tmp_path / out, check_code=0)
    run_acquire("report", acquired, check_code=0)
    run_acquire("map", acquired, "--export-ddrescue", tmp_path / "out.map", check_code=0)
    done = run_acquire("verify", acquired, "--no-record", check_code=0)
    assert "not recorded (--no-record)" in done.stdout
    assert (sha256(acquired), sha256(image)) == (record_before, image_before)
    assert acquired.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert not (tmp_path / "out.iso.custody.sqlite-wal").exists()


def test_verify_appends_its_result_as_a_chained_event_and_says_so(acquired):
    done = run_acquire("verify", acquired, "--json", check_code=0)
    out = json.loads(done.stdout)
    assert out["recorded"].startswith("recorded: a chained 'verification' event")
    with sqlite3.connect(acquired) as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY id DESC LIMIT 2")]
    assert kinds == ["seal", "verification"]
    again = run_acquire("verify", acquired, "--json", check_code=0)   # and the record still verifies
    assert json.loads(again.stdout)["ok"]


def test_a_record_that_does_not_verify_gets_nothing_appended(acquired):
    with sqlite3.connect(acquired) as db:
        db.execute("UPDATE damage SET reason = 'edited' WHERE id = (SELECT min(id) FROM damage)")
    before = sha256(acquired)
    done = run_acquire("verify", acquired, "--json", check_code=1)
    assert "not recorded: the record itself did not verify" in json.loads(done.stdout)["recorded"]
    assert sha256(acquired) == before


def test_a_read_only_record_refuses_writes(acquired):
    from acquire.errors import AcquireError
    from acquire.record import Record
    before = sha256(acquired)
    record = Record.open_readonly(acquired)
    try:
        assert record.head_hash()
        with pytest.raises(AcquireError):
            record.log_event(None, "note", text="must not land")
    finally:
        record.close()
    assert sha256(acquired) == before


def test_analyze_of_a_record_that_has_its_analysis_leaves_its_bytes_unchanged(acquired):
    before = sha256(acquired)
    done = run_acquire("analyze", acquired, check_code=0)
    assert "nothing changed" in done.stdout and sha256(acquired) == before


def test_analyze_refuses_an_edited_record_without_touching_it(acquired):
    with sqlite3.connect(acquired) as db:
        db.execute("DELETE FROM files")
        db.execute("DELETE FROM filesystems")
        db.execute("DELETE FROM events WHERE kind = 'fs-analysis'")
    before = sha256(acquired)
    done = run_acquire("analyze", acquired)
    assert done.returncode == 1 and "does not verify" in done.stderr and sha256(acquired) == before
