"""Tamper evidence: any single edit to any table of a sealed record is found and placed.

A realistic record (two runs, two drives, 200 map runs, 100 damage rows, passes, settings, hashes,
windows, a later-added table with a BLOB column, events, sealed) is copied into memory 1,000 times;
each copy gets one mutation (change a field / delete a row / insert a row) of one table, and
verify() must report a 'tampered' Finding naming that table. docs/check_record.py, run as a
separate process, must agree on a sample and on the untouched record.
"""
from __future__ import annotations

import math
import random
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from acquire.record import Record, verify_connection
from acquire.record.audio_tables import save_audio
from acquire.record.layout_tables import save_layout

CHECKER = Path(__file__).resolve().parent.parent / "docs" / "check_record.py"
MUTATIONS = 1000
CHECKER_SAMPLE = 30
SEED = 20240611
CAPACITY = 333_000


def build_record(path: Path) -> Record:
    rng = random.Random(7)
    record = Record.create(
        path, case_id="2024-0042", evidence_id="EV-7/ä", examiner="J. Doe",
        notes="CD-R found in drawer 3; label \"Backups 2009\" — scratched", tool_version="0.1.0",
    )
    # run 1: copy pass, stopped with Ctrl-C (sealed as 'interrupted')
    run1 = record.begin_run(command="acquire image /dev/sr0 disc.iso --case 2024-0042", device="/dev/sr0")
    drive1 = record.add_drive(
        device="/dev/sr0", vendor="HL-DT-ST", product="DVDRAM GH24NSD1", revision="LG00", serial="K1234567",
        inquiry_hex="0580003200000000484c2d44542d5354", features={"profiles": [8, 16], "rt_streaming": True},
    )
    record.set_run_drive(run1, drive1)
    record.set_medium(
        profile=8, profile_name="CD-ROM", capacity=CAPACITY, sector_size=2048,
        toc={"first": 1, "last": 1, "tracks": [{"no": 1, "lba": 0, "data": True}], "leadout": CAPACITY},
        disc_information={"status": "complete", "erasable": False}, identity="ab" * 32,
        volume_label="BACKUPS_2009", volume={"system_id": "LINUX", "volume_id": "BACKUPS_2009", "blocks": CAPACITY},
    )
    record.record_setting(run1, "read_speed_x", "max", 8)
    record.record_setting(run1, "error_recovery_page", bytes.fromhex("0106c0050000"), bytes.fromhex("010600000000"))
    pass1 = record.begin_pass(run1, "copy", 1, "forward")
    _stage_damage(record, rng, run1, drive1, "copy", 1, 40)
    record.save_map(_map(rng, 120))
    for start in range(0, 100_000, 20_000):
        record.add_provenance(start, 20_000, run_id=run1, drive_id=drive1, phase="copy", pass_no=1)
    record.commit()
    record.end_pass(pass1, reads=3125, failed_reads=40, sectors_finished=99_000, sectors_bad=1000, drive_time_s=612.25)
    record.log_event(run1, "interrupt", reason="SIGINT", lba=100_000)
    record.end_run(run1, "interrupted")

    # run 2: resumed in another drive; trim, scrape, retry; hashes at the end
    run2 = record.begin_run(command="acquire image /dev/sr1 disc.iso --retries 2", device="/dev/sr1")
    drive2 = record.add_drive(
        device="/dev/sr1", vendor="PIONEER", product="BD-RW BDR-XD07", revision="1.03", serial=None,
        inquiry_hex="05800032", features={"profiles": [8, 16, 64]},
    )
    record.set_run_drive(run2, drive2)
    record.record_setting(run2, "read_speed_x", "max", 4)
    for pass_no, (phase, direction) in enumerate([("copy", "forward"), ("trim", "reverse"), ("scrape", "forward"), ("retry", "reverse")], 1):
        pass_id = record.begin_pass(run2, phase, pass_no, direction)
        _stage_damage(record, rng, run2, drive2, phase, pass_no, 15)
        for _ in range(5):
            start = rng.randrange(CAPACITY)
            record.add_provenance(start, rng.randint(1, 64), run_id=run2, drive_id=drive2, phase=phase, pass_no=pass_no)
        record.save_map(_map(rng, 200))
        record.commit()
        record.end_pass(pass_id, reads=rng.randint(10, 9999), failed_reads=15, sectors_finished=rng.randint(0, 9999),
                        sectors_bad=rng.randint(0, 99), drive_time_s=rng.random() * 1000)
    record.record_setting(run2, "read_speed_x", 4, "max")
    # retry hygiene's steps (rescue/hygiene.py): the damage log's actions table
    for action, reason in (("pause", "pause 2 s before retry pass 4"), ("read-speed", "read speed 2x (SET STREAMING)"),
                           ("cache-flush", "cache flush (a zero-length READ(10) with FUA at LBA 1000)")):
        record.add_action(run_id=run2, drive_id=drive2, phase="retry", pass_no=4, action=action, lba=0, count=0,
                          fua=int(action == "cache-flush"), duration_s=2.0 if action == "pause" else 0.0005,
                          reason=reason)
    # a table added by a later feature: the seal must cover it without being told
    record.db["filesystems"].insert_all(
        [{"id": i, "kind": kind, "start": i * 16, "raw": bytes([i, 0, 255, i]), "ratio": i / 3}
         for i, kind in enumerate(["iso9660", "joliet", "rockridge", "udf"], 1)],
        pk="id",
    )
    # the disc's layout (record/layout_tables.py): two sessions of a TAO CD-R
    save_layout(record, {
        "sectors": CAPACITY, "capacity": CAPACITY, "appendable": False, "sessions": [],
        "tracks": [{"track": 1, "session": 1, "start": 0, "end": 20_002, "audio": False, "data_mode": 1, "source": "track information"},
                   {"track": 2, "session": 2, "start": 31_402, "end": CAPACITY, "audio": False, "data_mode": 1,
                    "source": "track information"}],
        "not_recorded": [{"start": 20_000, "count": 2, "kind": "run-out", "why": "probe"},
                         {"start": 20_002, "count": 11_400, "kind": "session-gap", "why": "tracks 1 and 2"}],
        "figures": {"read_capacity": CAPACITY, "toc_leadout": CAPACITY}, "disagreements": ["an example"],
    }, {"READ TOC format 2": "0044010101140000a000000000010000"}, run_id=run2)
    # an audio track's figures (record/audio_tables.py): one track, one unresolved run of samples
    save_audio(record, {"read_offset": 6, "offset_source": "table", "musicbrainz_id": "49HHV7Eb8UKF3aQiNmu1GR8vKTY-"},
               [{"track": 2, "start": 31_402, "end": CAPACITY, "file": "disc.02.wav", "bytes": 4, "sha1": "00" * 20,
                 "crc32": "00000000", "accuraterip_v1": "00000001", "accuraterip_v2": "00000002", "reads": 4,
                 "rereads": 1, "c2_samples": 3, "q_errors": 0, "unresolved_samples": 50, "budget_spent": 0,
                 "elapsed_s": 1.5}],
               [{"track": 2, "first_sample": 38_464, "last_sample": 38_513, "time": "00:00.65", "reason": "mismatch"}],
               run_id=run2)
    record.set_hashes(
        {"md5": "d41d8cd98f00b204e9800998ecf8427e", "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
         "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         "xxh128": "99aa06d3014798d86001c324468d497f"},
        CAPACITY * 2048,
        [(i, i * 64 << 20, 64 << 20, f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(256):064x}") for i in range(11)],
    )
    record.end_run(run2, "partial")
    return record


def _stage_damage(record: Record, rng: random.Random, run_id: int, drive_id: int, phase: str, pass_no: int, n: int) -> None:
    for _ in range(n):
        failed = rng.random() < 0.8
        record.add_damage(
            run_id=run_id, drive_id=drive_id, lba=rng.randrange(CAPACITY), count=rng.choice([1, 1, 16, 32]),
            phase=phase, pass_no=pass_no, outcome="failed" if failed else "marginal",
            sense="03/11/00" if failed else "01/17/01", sense_name="UNRECOVERED READ ERROR" if failed else "RECOVERED DATA WITH RETRIES",
            duration_s=rng.random() * 10, reason=None if failed else "recovered on retry 2",
        )


def _map(rng: random.Random, runs: int) -> list[tuple[int, int, int]]:
    cuts = sorted(rng.sample(range(1, CAPACITY), runs - 1))
    starts = [0, *cuts]
    ends = [*cuts, CAPACITY]
    return [(s, e - s, 4 if i % 2 == 0 else rng.choice([0, 1, 2, 3])) for i, (s, e) in enumerate(zip(starts, ends))]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tamper") / "disc.iso.custody.sqlite"
    build_record(path).close()
    return path


@pytest.fixture(scope="module")
def source(sealed):
    conn = sqlite3.connect(sealed.as_uri() + "?mode=ro", uri=True)
    yield conn
    conn.close()


def _copy(source: sqlite3.Connection) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    source.backup(conn)
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


# --- mutations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    table: str
    op: str  # 'update' | 'delete' | 'insert'
    description: str


def _changed(value, rng: random.Random, column_is_pk: bool, taken_max: int):
    """A value that differs from `value` in its canonical form (one field, one small edit)."""
    if value is None:
        return rng.choice([0, 1, "x", 2.5])
    if isinstance(value, bool) or isinstance(value, int):
        if column_is_pk:
            return taken_max + rng.randint(1, 1000)
        return value + rng.choice([1, -1, 2**31, -7])
    if isinstance(value, float):
        return rng.choice([math.nextafter(value, math.inf), value + 1.0, -value - 1.0])
    if isinstance(value, bytes):
        if not value:
            return b"\x00"
        i = rng.randrange(len(value))
        return value[:i] + bytes([value[i] ^ (1 << rng.randrange(8))]) + value[i + 1 :]
    if isinstance(value, str):
        if not value:
            return "x"
        i = rng.randrange(len(value))
        replacement = rng.choice([c for c in "0aZ9f.-\u00e9" if c != value[i]])
        return value[:i] + replacement + value[i + 1 :]
    raise TypeError(type(value))


def mutate(conn: sqlite3.Connection, table: str, op: str, rng: random.Random) -> Mutation:
    info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    columns = [c[1] for c in info]
    pk = {c[1] for c in info if c[5]}
    rowids = [r for (r,) in conn.execute(f'SELECT rowid FROM "{table}" ORDER BY rowid')]
    assert rowids, f"the realistic record has rows in {table}"
    rowid = rng.choice(rowids)
    row = dict(zip(columns, conn.execute(f'SELECT * FROM "{table}" WHERE rowid = ?', (rowid,)).fetchone()))
    if op == "delete":
        conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
        return Mutation(table, op, f"deleted rowid {rowid}")
    if op == "update":
        column = rng.choice(columns)
        taken_max = conn.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()[0] if column in pk else 0
        new = _changed(row[column], rng, column in pk and isinstance(row[column], int), taken_max or 0)
        conn.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (new, rowid))
        return Mutation(table, op, f"rowid {rowid}: {column} {row[column]!r} -> {new!r}")
    # insert: a plausible copy of a row under a fresh key, with one field changed as well
    for column in pk:
        value = row[column]
        if isinstance(value, int):
            row[column] = conn.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()[0] + 1
        else:
            row[column] = f"{value}-injected"
    others = [c for c in columns if c not in pk]
    if others and rng.random() < 0.5:
        column = rng.choice(others)
        row[column] = _changed(row[column], rng, False, 0)
    names = ", ".join(f'"{c}"' for c in columns)
    conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})', [row[c] for c in columns])
    return Mutation(table, op, f"inserted {row}")


def mutations(source: sqlite3.Connection):
    """Every (table, op) pair first, then random ones, MUTATIONS in all; yields (mutation, conn)."""
    rng = random.Random(SEED)
    tables = _tables(source)
    plan = [(t, op) for t in tables for op in ("update", "delete", "insert")]
    while len(plan) < MUTATIONS:
        plan.append((rng.choice(tables), rng.choices(["update", "delete", "insert"], [6, 2, 2])[0]))
    for table, op in plan:
        for _attempt in range(20):
            conn = _copy(source)
            try:
                yield mutate(conn, table, op, rng), conn
                break
            except sqlite3.IntegrityError:  # a NOT NULL or key collision: draw again
                conn.close()
        else:
            raise AssertionError(f"could not mutate {table} with {op}")


def test_the_untouched_record_verifies_clean(sealed):
    with Record.open(sealed) as record:
        assert record.verify() == []


def test_every_table_of_the_realistic_record_has_rows(source):
    for table in _tables(source):
        assert source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] > 0, table


def test_any_single_edit_to_any_table_is_found_and_names_the_table(source, tmp_path):
    seen = set()
    for count, (mutation, conn) in enumerate(mutations(source), 1):
        findings = verify_connection(conn)
        conn.close()
        assert any(f.severity == "tampered" and f.table == mutation.table for f in findings), (mutation, findings)
        seen.add((mutation.table, mutation.op))
    assert count == MUTATIONS
    assert {t for t, _ in seen} >= {"events", "sector_map", "damage", "filesystems", "meta", "case_info"}


def test_an_edited_row_is_named_by_its_key(source):
    conn = _copy(source)
    damage_id = conn.execute("SELECT id FROM damage ORDER BY id LIMIT 1 OFFSET 41").fetchone()[0]
    conn.execute("UPDATE damage SET sense = '03/11/05' WHERE id = ?", (damage_id,))
    start = conn.execute("SELECT start FROM sector_map WHERE state != 4 ORDER BY start LIMIT 1 OFFSET 9").fetchone()[0]
    conn.execute("UPDATE sector_map SET state = 4 WHERE start = ?", (start,))  # a bad run made to look read
    findings = {f.table: f for f in verify_connection(conn)}
    assert set(findings) == {"damage", "sector_map"}
    assert findings["damage"].row == f"id={damage_id}"
    assert findings["sector_map"].row == f"start={start}"
    assert all(f.severity == "tampered" for f in findings.values())


def test_the_independent_checker_agrees_with_verify(source, sealed, tmp_path):
    clean = subprocess.run([sys.executable, str(CHECKER), str(sealed)], capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "FAIL" not in clean.stdout

    rng = random.Random(SEED + 1)
    sample = sorted(rng.sample(range(MUTATIONS), CHECKER_SAMPLE))
    checked = 0
    for index, (mutation, conn) in enumerate(mutations(source)):
        if index not in sample:
            conn.close()
            continue
        copy = tmp_path / f"mutated-{index}.sqlite"
        with sqlite3.connect(copy) as out:
            conn.backup(out)
        out.close()
        conn.close()
        result = subprocess.run([sys.executable, str(CHECKER), str(copy)], capture_output=True, text=True)
        assert result.returncode == 1, (mutation, result.stdout)
        fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
        where = ("events:", "seal:") if mutation.table == "events" else (f"table {mutation.table}:",)
        assert any(w in line for line in fails for w in where), (mutation, result.stdout)
        checked += 1
    assert checked == CHECKER_SAMPLE
