"""The record's API: creation, runs, events chain, the staged map, crash semantics (docs/record.md)."""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlite_utils import cli as sqlite_utils_cli

from acquire.errors import RecordError
from acquire.record import (
    GENESIS,
    SCHEMA_VERSION,
    Finding,
    Record,
    canonical,
    event_hash,
    table_digest,
    verify_connection,
)

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "docs" / "check_record.py"
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "disc.iso.custody.sqlite"


@pytest.fixture
def record(path):
    rec = Record.create(path, case_id="C-1", evidence_id="E-1", examiner="J. Doe", notes="n", tool_version="0.1.0")
    yield rec
    rec.close()


def _drive(record: Record, device: str = "/dev/sr0", serial: str | None = "S1") -> int:
    return record.add_drive(device=device, vendor="ACQUIRE", product="SIMULATED", revision="1.00", serial=serial,
                            inquiry_hex="05800032", features={"profiles": [8]})


def _other(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=5)


# --- create and open ------------------------------------------------------------------------------


def test_create_writes_meta_with_tool_and_schema_version_and_the_case(record):
    assert record.meta() == {"tool": "acquire", "tool_version": "0.1.0", "schema_version": str(SCHEMA_VERSION)}
    case = record.case()
    assert (case["case_id"], case["evidence_id"], case["examiner"], case["notes"]) == ("C-1", "E-1", "J. Doe", "n")
    assert case["tool_version"] == "0.1.0" and case["host"] and case["user"]
    assert UTC.match(case["created_utc"])


def test_a_fresh_record_is_sealed_and_verifies_clean(record):
    kinds = [e["kind"] for e in record.events()]
    assert kinds == ["record-created", "seal"]
    assert record.verify() == []


def test_create_refuses_an_existing_path(record, path):
    with pytest.raises(RecordError, match="already exists"):
        Record.create(path, tool_version="0.1.0")


def test_open_refuses_a_missing_file_with_one_line(tmp_path):
    with pytest.raises(RecordError) as exc:
        Record.open(tmp_path / "nope.sqlite")
    assert "does not exist" in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "nope.sqlite").exists()


@pytest.mark.parametrize("content", [b"hello, this is a text file\n", b"", b"\x00" * 4096])
def test_open_refuses_a_file_that_is_not_a_record_with_one_line_and_leaves_it_alone(tmp_path, content):
    other = tmp_path / "notes.txt"
    other.write_bytes(content)
    with pytest.raises(RecordError) as exc:
        Record.open(other)
    assert str(exc.value).startswith(f"{other} is not an acquire record")
    assert "\n" not in str(exc.value)
    assert other.read_bytes() == content


def test_open_refuses_another_sqlite_database_and_leaves_it_alone(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('tool', 'something-else')")
    conn.close()
    before = other.read_bytes()
    with pytest.raises(RecordError, match="is not an acquire record"):
        Record.open(other)
    assert other.read_bytes() == before


def test_open_refuses_a_record_from_a_newer_schema(record, path):
    record.db.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    record.close()
    with pytest.raises(RecordError, match=f"schema {SCHEMA_VERSION + 1}, newer than this tool's {SCHEMA_VERSION}"):
        Record.open(path)


def test_open_sets_wal_synchronous_full_and_foreign_keys(record, path):
    record.close()
    with Record.open(path) as rec:
        conn = rec.db.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_create_sets_the_same_pragmas(record):
    conn = record.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_close_leaves_one_self_contained_file(record, path):
    record.begin_run(command="acquire image", device="sim:x")
    record.close()
    assert not Path(f"{path}-wal").exists()
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_every_table_has_typed_columns(record):
    for table in record.db.tables:
        for column in table.columns:
            assert column.type in {"INTEGER", "TEXT", "REAL"}, (table.name, column.name)


def test_foreign_keys_are_declared_where_natural(record):
    fks = {(t.name, fk.column, fk.other_table) for t in record.db.tables for fk in t.foreign_keys}
    assert fks >= {
        ("runs", "drive_id", "drives"), ("provenance", "run_id", "runs"), ("provenance", "drive_id", "drives"),
        ("damage", "run_id", "runs"), ("damage", "drive_id", "drives"), ("passes", "run_id", "runs"),
        ("settings", "run_id", "runs"),
    }


# --- runs and events ------------------------------------------------------------------------------


def test_begin_run_fills_host_user_and_version_and_logs_run_start_then_resume(record):
    first = record.begin_run(command="acquire image /dev/sr0 d.iso", device="/dev/sr0")
    record.end_run(first, "interrupted")
    second = record.begin_run(command="acquire image /dev/sr1 d.iso", device="/dev/sr1")
    runs = record.runs()
    assert [r["id"] for r in runs] == [first, second]
    assert runs[0]["status"] == "interrupted" and runs[1]["status"] == "running"
    assert all(r["host"] and r["user"] and r["tool_version"] for r in runs)
    assert [(e["kind"], e["run_id"]) for e in record.events() if e["kind"] in ("run-start", "resume")] == [
        ("run-start", first), ("resume", second)]


def test_end_run_logs_run_end_then_a_seal_and_returns_the_head(record):
    run = record.begin_run(command="c", device="d")
    head = record.end_run(run, "complete")
    events = record.events()
    assert [e["kind"] for e in events[-2:]] == ["run-end", "seal"]
    assert head == events[-1]["hash"] == record.head_hash()
    assert record.runs()[0]["status"] == "complete" and UTC.match(record.runs()[0]["ended_utc"])
    assert record.verify() == []


def test_end_run_refuses_an_unknown_status(record):
    run = record.begin_run(command="c", device="d")
    with pytest.raises(ValueError):
        record.end_run(run, "done")


def test_events_are_hash_chained_from_64_zeros(record):
    record.log_event(None, "note", text="hello", n=3)
    events = record.events()
    assert events[0]["prev_hash"] == GENESIS == "0" * 64
    for before, after in zip(events, events[1:]):
        assert after["prev_hash"] == before["hash"]
        assert after["id"] == before["id"] + 1


def test_an_event_hash_is_sha256_of_prev_newline_and_the_canonical_content(record):
    returned = record.log_event(None, "note", text="ünïcode", n=3)
    event = record.events()[-1]
    content = json.dumps([event["id"], event["time_utc"], None, "note", event["details_json"]],
                         separators=(",", ":"), ensure_ascii=True)
    expected = hashlib.sha256((event["prev_hash"] + "\n" + content).encode()).hexdigest()
    assert returned == event["hash"] == expected == event_hash(
        event["prev_hash"], event["id"], event["time_utc"], None, "note", event["details_json"])
    assert event["details"] == {"text": "ünïcode", "n": 3}
    assert event["details_json"] == '{"n":3,"text":"\\u00fcn\\u00efcode"}'


def test_log_event_is_committed_at_once(record, path):
    record.log_event(None, "note", text="now")
    other = _other(path)
    assert other.execute("SELECT kind FROM events ORDER BY id DESC LIMIT 1").fetchone()[0] == "note"
    other.close()


def test_every_timestamp_is_utc_iso_8601_with_microseconds_and_z(record):
    run = record.begin_run(command="c", device="d")
    drive = _drive(record)
    pass_id = record.begin_pass(run, "copy", 1, "forward")
    record.add_damage(run_id=run, drive_id=drive, lba=5, count=1, outcome="failed")
    record.record_setting(run, "read_speed_x", None, 8)
    record.commit()
    record.end_pass(pass_id, reads=1)
    record.end_run(run, "partial")
    conn = record.db.conn
    stamps = [v for t in record.db.tables for c in t.columns if c.name.endswith("_utc")
              for (v,) in conn.execute(f'SELECT "{c.name}" FROM "{t.name}"') if v is not None]
    assert len(stamps) >= 10
    assert all(UTC.match(s) for s in stamps), stamps


# --- drives, medium, passes, settings, hashes -----------------------------------------------------


def test_add_drive_returns_the_existing_id_for_the_same_identity(record):
    first = _drive(record)
    assert _drive(record) == first
    assert _drive(record, device="/dev/sr1") != first
    assert _drive(record, serial=None) == _drive(record, serial=None) != first
    row = record.db["drives"].get(first)
    assert json.loads(row["features_json"]) == {"profiles": [8]}


def test_set_run_drive(record):
    run = record.begin_run(command="c", device="/dev/sr0")
    drive = _drive(record)
    record.set_run_drive(run, drive)
    assert record.runs()[0]["drive_id"] == drive


def test_set_medium_stores_json_fields_and_updates(record):
    assert record.medium() is None
    record.set_medium(profile=8, profile_name="CD-ROM", capacity=1000, sector_size=2048, toc={"tracks": [1]})
    record.set_medium(volume_label="LABEL", volume={"volume_id": "LABEL"})
    medium = record.medium()
    assert (medium["profile"], medium["capacity"], medium["volume_label"]) == (8, 1000, "LABEL")
    assert medium["toc"] == {"tracks": [1]} and medium["volume"] == {"volume_id": "LABEL"}
    with pytest.raises(TypeError):
        record.set_medium(colour="blue")


def test_the_medium_set_right_after_create_is_unsealed_not_tampered_until_a_run_seals_it(record):
    record.set_medium(profile=8, capacity=1000)
    findings = record.verify()
    assert findings and {f.severity for f in findings} == {"interrupted"}
    run = record.begin_run(command="c", device="d")
    record.update_medium(volume_label="DISC")
    record.end_run(run, "complete")
    assert record.verify() == []
    assert record.medium()["volume_label"] == "DISC"


def test_discard_staged_forgets_the_uncommitted_batch(record):
    run = record.begin_run(command="c", device="d")
    record.save_map([(0, 10, 4)])
    record.add_provenance(0, 10, run_id=run, drive_id=None, phase="copy", pass_no=1)
    assert record.discard_staged() == {"map_staged": True, "provenance_staged": 1, "damage_staged": 0}
    record.commit()
    assert record.load_map() == [] and not record.staged


def test_passes_settings_hashes_and_windows_round_trip(record):
    run = record.begin_run(command="c", device="d")
    pass_id = record.begin_pass(run, "trim", 2, "reverse")
    record.end_pass(pass_id, reads=10, failed_reads=2, sectors_finished=300, sectors_bad=4, drive_time_s=1.5)
    (row,) = record.passes(run)
    assert (row["phase"], row["pass_no"], row["direction"], row["reads"], row["sectors_bad"], row["drive_time_s"]) == (
        "trim", 2, "reverse", 10, 4, 1.5)
    record.record_setting(run, "error_recovery_page", bytes.fromhex("0106c005"), b"\x01\x06\x00\x00")
    assert record.db["settings"].get(1)["old_value"] == "0106c005"
    windows = [(0, 0, 1 << 26, "a" * 32, "b" * 64), (1, 1 << 26, 100, "c" * 32, "d" * 64)]
    record.set_hashes({"md5": "m", "sha1": "s1", "sha256": "s2", "xxh128": "x"}, (1 << 26) + 100, windows)
    record.set_hashes({"md5": "m2", "sha1": "s1", "sha256": "s2", "xxh128": "x"}, (1 << 26) + 100, windows)  # replaces
    assert record.image_hashes() == {"md5": "m2", "sha1": "s1", "sha256": "s2", "xxh128": "x"}
    assert record.image_size() == (1 << 26) + 100
    assert record.windows() == windows


# --- the staged map: crash semantics ---------------------------------------------------------------


def test_save_and_load_map_round_trip_and_replace_the_whole_map(record):
    record.save_map([(0, 10, 4), (10, 5, 3), (15, 85, 0)])
    record.commit()
    assert record.load_map() == [(0, 10, 4), (10, 5, 3), (15, 85, 0)]
    record.save_map([(0, 100, 4)])
    record.commit()
    assert record.load_map() == [(0, 100, 4)]


def test_save_map_refuses_a_state_outside_0_to_5(record):
    record.save_map([(0, 10, 5)])             # 5: not recorded (a run-out, a gap between sessions)
    with pytest.raises(ValueError):
        record.save_map([(0, 10, 6)])


def test_staged_rows_are_invisible_to_another_connection_and_to_load_map_before_commit(record, path):
    run = record.begin_run(command="c", device="d")
    record.save_map([(0, 10, 4)])
    record.add_provenance(0, 10, run_id=run, drive_id=None, phase="copy", pass_no=1)
    record.add_damage(run_id=run, lba=10, count=1, outcome="failed", sense="03/11/00")
    other = _other(path)
    count = lambda t: other.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
    assert (count("sector_map"), count("provenance"), count("damage")) == (0, 0, 0)
    assert record.load_map() == []
    record.commit()
    assert (count("sector_map"), count("provenance"), count("damage")) == (1, 1, 1)
    other.close()


def test_commit_is_one_transaction_a_failure_writes_nothing_and_keeps_the_staged_rows(record, path):
    run = record.begin_run(command="c", device="d")
    record.save_map([(0, 10, 4)])
    record.commit()
    record.save_map([(0, 20, 4)])
    record.add_provenance(0, 20, run_id=run, drive_id=None, phase="copy", pass_no=1)
    record.add_damage(run_id=999, lba=10, count=1, outcome="failed")  # no run 999: the foreign key refuses
    with pytest.raises(RecordError, match="cannot write"):
        record.commit()
    other = _other(path)
    assert other.execute("SELECT start, count, state FROM sector_map").fetchall() == [(0, 10, 4)]
    assert other.execute("SELECT count(*) FROM provenance").fetchone()[0] == 0
    other.close()
    assert record.staged


def test_end_run_drops_uncommitted_rows_and_says_so(record):
    run = record.begin_run(command="c", device="d")
    record.save_map([(0, 10, 4)])
    record.add_damage(run_id=run, lba=1, count=1, outcome="marginal")
    record.end_run(run, "interrupted")
    assert record.load_map() == [] and not record.staged
    run_end = [e for e in record.events() if e["kind"] == "run-end"][-1]
    assert run_end["details"]["uncommitted_dropped"] == {"map_staged": True, "provenance_staged": 0, "damage_staged": 1}
    assert record.verify() == []


def test_add_damage_fills_time_and_checks_the_outcome(record):
    run = record.begin_run(command="c", device="d")
    with pytest.raises(ValueError):
        record.add_damage(run_id=run, lba=1, count=1, outcome="bad")
    with pytest.raises(TypeError):
        record.add_damage(run_id=run, lba=1, count=1, outcome="failed", colour="red")
    record.add_damage(run_id=run, lba=1, count=1, outcome="failed", sense="03/11/00", duration_s=8.0)
    record.commit()
    row = record.db["damage"].get(1)
    assert UTC.match(row["time_utc"]) and row["sense"] == "03/11/00" and row["duration_s"] == 8.0


# --- verify: interrupted versus tampered ----------------------------------------------------------

KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from acquire.record import Record
    record = Record.open(Path(sys.argv[1]))
    run = record.begin_run(command="acquire image sim:x d.iso", device="sim:x")
    record.save_map([(0, 500, 4), (500, 500, 0)])
    record.add_damage(run_id=run, lba=500, count=1, outcome="failed", sense="03/11/00")
    record.commit()
    record.save_map([(0, 1000, 4)])          # staged, never committed: lost with the process
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _killed(path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", KILLED_RUN, str(path)], cwd=ROOT, capture_output=True)
    assert result.returncode == -9, result.stderr


def test_a_killed_run_is_reported_as_interrupted_not_tampered(record, path):
    record.close()
    _killed(path)
    with Record.open(path) as rec:
        findings = rec.verify()
        assert findings and all(f.severity == "interrupted" for f in findings), findings
        assert Finding("interrupted", "runs", "id=1", findings[0].message) in findings
        assert rec.load_map() == [(0, 500, 4), (500, 500, 0)]  # the committed batch, not the staged one
    checker = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True)
    assert checker.returncode == 1 and "TAMPERED" not in checker.stdout and "interrupted" in checker.stdout


def test_a_resume_after_a_kill_seals_everything_again(record, path):
    record.close()
    _killed(path)
    with Record.open(path) as rec:
        run = rec.begin_run(command="acquire image sim:x d.iso", device="sim:x")
        resume = rec.events()[-1]
        assert (resume["kind"], resume["details"]["interrupted_runs"]) == ("resume", [1])
        assert [r["status"] for r in rec.runs()] == ["interrupted", "running"]
        rec.save_map([(0, 1000, 4)])
        rec.commit()
        rec.end_run(run, "complete")
        assert rec.verify() == []
    assert subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True).returncode == 0


def test_an_edit_to_sealed_rows_during_an_unsealed_run_is_still_tampering(record, path):
    run = record.begin_run(command="c", device="d")
    record.add_damage(run_id=run, lba=1, count=1, outcome="failed")
    record.commit()
    record.end_run(run, "partial")
    record.begin_run(command="c", device="d")  # unsealed from here on
    record.db.conn.execute("UPDATE damage SET lba = 2 WHERE id = 1")
    record.db.conn.execute("UPDATE case_info SET examiner = 'someone else'")
    tampered = {(f.table, f.row) for f in record.verify() if f.severity == "tampered"}
    assert tampered == {("damage", "id=1"), ("case_info", "id=1")}


def test_a_missing_final_seal_is_tampering(record):
    run = record.begin_run(command="c", device="d")
    record.end_run(run, "complete")
    record.db.conn.execute("DELETE FROM events WHERE id = (SELECT max(id) FROM events)")
    findings = record.verify()
    assert any(f.severity == "tampered" and f.table == "events" and "seal is missing" in f.message for f in findings)


def test_a_deleted_event_in_the_middle_is_found(record):
    run = record.begin_run(command="c", device="d")
    record.log_event(run, "note", n=1)
    record.end_run(run, "complete")
    record.db.conn.execute("DELETE FROM events WHERE kind = 'note'")
    findings = [f for f in record.verify() if f.table == "events"]
    assert any("ids jump" in f.message for f in findings) and any("prev_hash" in f.message for f in findings)


def test_a_noted_head_hash_detects_a_rewritten_chain(record):
    head = record.head_hash()
    assert record.verify(expected_head=head) == []
    assert record.verify(expected_head="f" * 64)[0].table == "events"


def test_the_seal_covers_tables_added_later_without_being_told(record):
    record.db["files"].insert({"id": 1, "path": "/A.TXT", "first_lba": 30, "data": b"\x00\x01"}, pk="id")
    run = record.begin_run(command="c", device="d")
    record.end_run(run, "complete")
    assert "files" in record.events("seal")[-1]["details"]["tables"]
    assert record.verify() == []
    record.db.conn.execute("UPDATE files SET data = X'0002' WHERE id = 1")
    assert [(f.severity, f.table, f.row) for f in record.verify()] == [("tampered", "files", "id=1")]


def test_a_table_added_after_the_seal_is_tampering(record):
    record.db.conn.execute("CREATE TABLE extra (x INTEGER)")
    assert [(f.severity, f.table) for f in record.verify()] == [("tampered", "extra")]


def test_a_dropped_table_is_tampering(record):
    record.db.conn.execute("DROP TABLE windows")
    assert [(f.severity, f.table) for f in record.verify()] == [("tampered", "windows")]


# --- canonical form -------------------------------------------------------------------------------

sqlite_values = st.one_of(
    st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(), st.binary(),
)


@given(st.lists(sqlite_values, max_size=6))
@settings(max_examples=300)
def test_canonical_rows_are_compact_ascii_json_that_decodes_back(values):
    encoded = canonical(values)
    assert encoded.isascii() and b"\n" not in encoded
    decoded = json.loads(encoded)
    assert decoded == [{"blob": v.hex()} if isinstance(v, bytes) else v for v in values]


@given(st.lists(sqlite_values, min_size=1, max_size=4), st.data())
@settings(max_examples=300)
def test_changing_any_value_changes_the_canonical_row(values, data):
    i = data.draw(st.integers(0, len(values) - 1))
    new = data.draw(sqlite_values)
    changed = [*values[:i], new, *values[i + 1 :]]
    same = type(new) is type(values[i]) and repr(new) == repr(values[i])  # repr: 0.0 and -0.0 differ
    assert (canonical(changed) == canonical(values)) == same


def test_a_blob_never_equals_the_text_of_its_hex():
    assert canonical([b"\xab"]) != canonical(["ab"])


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 1000), st.integers(0, 4)), max_size=40, unique_by=lambda r: r[0]))
@settings(max_examples=50, deadline=None)
def test_a_table_digest_depends_on_rows_not_on_insertion_order(rows):
    digests = []
    for order in (rows, list(reversed(rows))):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE sector_map (start INTEGER PRIMARY KEY, count INTEGER, state INTEGER)")
        conn.executemany("INSERT INTO sector_map VALUES (?, ?, ?)", order)
        digests.append(table_digest(conn, "sector_map").digest)
    assert digests[0] == digests[1]


def test_a_table_digest_is_sha256_over_length_prefixed_header_and_rows():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE sector_map (start INTEGER PRIMARY KEY, count INTEGER NOT NULL, state INTEGER NOT NULL)")
    conn.executemany("INSERT INTO sector_map VALUES (?, ?, ?)", [(10, 5, 3), (0, 10, 4)])
    lp = lambda b: len(b).to_bytes(8, "big") + b  # noqa: E731
    expected = hashlib.sha256(
        lp(b'["sector_map",[["start","INTEGER"],["count","INTEGER"],["state","INTEGER"]]]')
        + lp(b"[0,10,4]") + lp(b"[10,5,3]")
    ).hexdigest()
    assert table_digest(conn, "sector_map").digest == expected


def test_verify_connection_works_on_a_plain_sqlite3_copy(record):
    copy = sqlite3.connect(":memory:")
    record.db.conn.backup(copy)
    assert verify_connection(copy) == []


# --- reading it with the sqlite-utils command line --------------------------------------------------


def test_sqlite_utils_reads_the_record(record, path):
    run = record.begin_run(command="c", device="d")
    record.add_damage(run_id=run, lba=77, count=1, outcome="failed", sense="03/11/00")
    record.commit()
    record.end_run(run, "partial")
    record.close()
    runner = CliRunner()
    tables = runner.invoke(sqlite_utils_cli.cli, ["tables", str(path), "--counts"])
    assert tables.exit_code == 0 and {"table": "damage", "count": 1} in json.loads(tables.output)
    rows = runner.invoke(sqlite_utils_cli.cli, ["rows", str(path), "damage"])
    assert rows.exit_code == 0 and json.loads(rows.output)[0]["lba"] == 77
