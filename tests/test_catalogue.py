"""The catalogue: rows derived from real records and checked against their seals, in SQLite and in a real
PostgreSQL server (the same tests, parametrised), and the SQLite file served by Datasette as it is."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT, run_acquire
from pgserver import free_port
from shelf import acquire_disc

from acquire.catalogue import Catalogue, derive
from acquire.catalogue.schema import QUERIES
from acquire.errors import CatalogueError
from acquire.record import Record


@pytest.fixture(scope="module")
def records(tmp_path_factory, fixtures_made):
    """Four sealed records: two cases, two drives, one disc with a scratch through /RANDOM.BIN."""
    shelf = tmp_path_factory.mktemp("shelf")
    return {
        "a": acquire_disc(shelf / "case1", "alpha", seed=1, case="CASE-2024-17", serial="SIM-A"),
        "b": acquire_disc(shelf / "case1", "beta", seed=2, case="CASE-2024-17", serial="SIM-A"),
        "c": acquire_disc(shelf / "case2", "gamma", seed=3, case="CASE-2025-03", serial="SIM-B"),
        "scratched": acquire_disc(shelf / "case2", "scratched", iso=True, case="CASE-2025-03", serial="SIM-B",
                                  damage=[{"lbas": "1000-1003", "kind": "unreadable"}]),
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "archive.sqlite")
    return request.getfixturevalue("pg_server").new_database()


def add(location, *paths, code=0):
    done = run_acquire("catalogue", "add", *paths, "--catalogue", location, "--json", check_code=code)
    return json.loads(done.stdout)


def test_every_record_is_registered_with_rows_derived_from_it(records, location):
    out = add(location, records["a"].parent.parent)            # a directory: every record under it
    assert sorted(out["added"]) == sorted(str(p) for p in records.values())
    with Catalogue.open(location) as catalogue:
        discs = {d["evidence_id"]: d for d in catalogue.discs()}
        assert sorted(discs) == ["alpha", "beta", "gamma", "scratched"]
        for name, path in records.items():
            record = Record.open_readonly(path)
            try:
                disc = discs[{"a": "alpha", "b": "beta", "c": "gamma"}.get(name, name)]
                assert {k: disc[k] for k in ("md5", "sha1", "sha256", "xxh128", "crc32")} == record.image_hashes()
                assert (disc["capacity"], disc["chain_head"], disc["window_hash"]) == (
                    record.medium()["capacity"], record.head_hash(), "blake3")
            finally:
                record.close()
        scratched = discs["scratched"]
        assert (scratched["status"], scratched["unreadable_sectors"], scratched["damaged_files"]) == ("partial", 4, 1)
        children = catalogue.children(scratched["record_id"])
        assert [(d["first_lba"], d["last_lba"], d["state"]) for d in children["damage"]] == [(1000, 1003, "bad")]
        assert [(f["path"], f["unreadable_sectors"]) for f in children["files_hit"]] == [("/RANDOM.BIN", 4)]
        assert [(d["serial"], d["product"]) for d in children["disc_drives"]] == [("SIM-B", "SIM DRIVE")]


def test_adding_again_updates_the_row_and_a_moved_record_keeps_its_identity(records, location, tmp_path):
    add(location, records["a"])
    assert add(location, records["a"])["updated"] == [str(records["a"])]
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("alpha.iso", "alpha.iso.custody.sqlite"):
        shutil.copy2(records["a"].parent / name, moved / name)
    assert add(location, moved / "alpha.iso.custody.sqlite")["updated"] == [str(moved / "alpha.iso.custody.sqlite")]
    with Catalogue.open(location) as catalogue:
        (disc,) = catalogue.discs()
        assert disc["record_path"] == str(moved / "alpha.iso.custody.sqlite")


def test_an_edited_record_is_refused_and_nothing_of_it_is_registered(records, location, tmp_path):
    edited = tmp_path / "edited.iso.custody.sqlite"
    shutil.copy2(records["b"], edited)
    with sqlite3.connect(edited) as conn:
        conn.execute("UPDATE case_info SET examiner = 'someone else'")
    out = add(location, edited, records["c"], code=1)
    assert out["added"] == [str(records["c"])]
    (refused,) = out["refused"]
    assert refused["record"] == str(edited)
    assert "does not check against its seal" in refused["reason"] and "case_info" in refused["reason"]
    with pytest.raises(CatalogueError, match="does not check against its seal"):
        derive(edited)
    with Catalogue.open(location) as catalogue:
        assert [d["evidence_id"] for d in catalogue.discs()] == ["gamma"]


def test_search_finds_by_case_file_hit_drive_serial_and_hash(records, location):
    add(location, *records.values())
    sha256 = derive(records["c"]).disc["sha256"]

    def found(term):
        out = json.loads(run_acquire("catalogue", "search", term, "--catalogue", location, "--json",
                                     check_code=0).stdout)
        return sorted(d["evidence_id"] for d in out["discs"])

    assert found("case-2024-17") == ["alpha", "beta"]
    assert found("random.bin") == ["scratched"]
    assert found("SIM-B") == ["gamma", "scratched"]
    assert found(sha256[:12].upper()) == ["gamma"]
    assert found("no such thing") == []
    listed = json.loads(run_acquire("catalogue", "list", "--damaged", "--catalogue", location, "--json").stdout)
    assert [d["evidence_id"] for d in listed["discs"]] == ["scratched"]


def test_the_canned_queries_answer_on_this_backend(records, location):
    add(location, *records.values())
    with Catalogue.open(location) as catalogue:
        damaged = catalogue.query(QUERIES["damaged_discs"]["sql"])
        hit = catalogue.query(QUERIES["files_hit"]["sql"])
        drives = catalogue.query(QUERIES["discs_by_drive"]["sql"])
    assert [(d["evidence_id"], d["unreadable_sectors"]) for d in damaged] == [("scratched", 4)]
    assert [(f["evidence_id"], f["path"]) for f in hit] == [("scratched", "/RANDOM.BIN")]
    assert [(d["serial"], d["discs"]) for d in drives] == [("SIM-A", 2), ("SIM-B", 2)]


def test_a_catalogue_that_cannot_be_reached_is_one_line(tmp_path):
    done = run_acquire("catalogue", "list", "--catalogue", f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    assert done.returncode == 1
    assert done.stderr.startswith("acquire: cannot connect to the catalogue at 127.0.0.1:") and "Traceback" not in done.stderr
    done = run_acquire("catalogue", "list", "--catalogue", tmp_path / "none.sqlite")
    assert (done.returncode, done.stderr.strip()) == (
        1, f"acquire: no catalogue at {tmp_path / 'none.sqlite'}; register records with acquire catalogue add")


def test_datasette_serves_the_sqlite_catalogue_and_its_canned_queries(records, tmp_path):
    location = tmp_path / "archive.sqlite"
    add(str(location), *records.values())
    metadata = tmp_path / "archive.metadata.json"
    assert sorted(json.loads(metadata.read_text())["databases"]["archive"]["queries"]) == sorted(QUERIES)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(location), "--metadata", str(metadata),
                               "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/archive"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/damaged_discs.json?_shape=array", timeout=5) as answer:
                    damaged = json.load(answer)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"datasette did not answer: {server.stderr.read1(2000) if server.poll() is not None else ''}")
                time.sleep(0.2)
        assert [(d["evidence_id"], d["unreadable_sectors"], d["damaged_files"]) for d in damaged] == [("scratched", 4, 1)]
        with urllib.request.urlopen(f"{base}/files_hit.json?_shape=array", timeout=5) as answer:
            assert [(f["path"], f["unreadable_sectors"]) for f in json.load(answer)] == [("/RANDOM.BIN", 4)]
        with urllib.request.urlopen(f"{base}/discs_by_drive.json?_shape=array", timeout=5) as answer:
            assert [(d["serial"], d["discs"]) for d in json.load(answer)] == [("SIM-A", 2), ("SIM-B", 2)]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_audit_of_the_catalogue_is_recorded_in_it(records, location, tmp_path):
    copies = []
    for key in ("a", "c"):
        for suffix in ("", ".custody.sqlite", ".seal.json"):
            name = records[key].name.replace(".custody.sqlite", "") + suffix
            shutil.copy2(records[key].parent / name, tmp_path / name)
        copies.append(tmp_path / records[key].name)
    add(location, *copies)
    with open(tmp_path / "gamma.iso", "r+b") as image:
        image.seek(5000)
        byte = image.read(1)
        image.seek(5000)
        image.write(bytes([byte[0] ^ 0xFF]))
    done = run_acquire("audit", location, "--state", tmp_path / "state.json", "--json", check_code=1)
    report = json.loads(done.stdout)
    assert report["failed"] == [str(tmp_path / "gamma.iso.custody.sqlite")]
    assert report["results"][report["failed"][0]]["checks"]["catalogue"]["ok"] is True
    with Catalogue.open(location) as catalogue:
        failed = catalogue.query(QUERIES["failed_audits"]["sql"])
        assert [(row["evidence_id"], row["audit_id"]) for row in failed] == [("gamma", report["audit_id"])]
        assert sorted((d["evidence_id"], d["last_audit_ok"]) for d in catalogue.discs()) == [("alpha", 1), ("gamma", 0)]
