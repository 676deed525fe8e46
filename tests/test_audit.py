"""acquire audit: a collection re-verified (every hash, the chain, the seal) in parallel, resumably, with a
report of what changed since the last audit, recorded in every record's chain and in the catalogue."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, run_acquire
from shelf import shelf

from acquire.audit import run_audit
from acquire.catalogue import Catalogue
from acquire.catalogue.schema import QUERIES
from acquire.errors import Interrupted
from acquire.hashing import WINDOW_BYTES
from acquire.record import Record

SECTORS = 1200                                  # 2.4 MB: three 1 MiB windows, the last one short
FLIPPED_DISC, FLIPPED_WINDOW = 13, 2
FLIP_AT = FLIPPED_WINDOW * WINDOW_BYTES + 4321
OLD_RECORDS = ROOT / "fixtures" / "records"


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Twenty sealed acquisitions of distinct discs, registered in a SQLite catalogue; copied per test."""
    root = tmp_path_factory.mktemp("collection")
    shelf(root / "shelf", 20, sectors=SECTORS)
    return root


@pytest.fixture
def archive(collection, tmp_path):
    shutil.copytree(collection / "shelf", tmp_path / "shelf")
    run_acquire("catalogue", "add", tmp_path / "shelf", "--catalogue", tmp_path / "archive.sqlite", check_code=0)
    return tmp_path


def audit(*args, code):
    done = run_acquire("audit", *map(str, args), "--json", check_code=code)
    return json.loads(done.stdout), done.stderr


def flip(image, at):
    with open(image, "r+b") as file:
        file.seek(at)
        byte = file.read(1)[0]
        file.seek(at)
        file.write(bytes([byte ^ 0x01]))


def events(record, kind):
    with Record.open_readonly(record) as opened:
        return opened.events(kind)


def test_an_audit_finds_one_flipped_byte_in_one_of_twenty_images_and_names_image_and_window(archive):
    catalogue = archive / "archive.sqlite"
    first, _ = audit(catalogue, code=0)
    assert (first["ok"], first["records"], first["failed"]) == (True, 20, [])
    assert len(first["changes"]) == 20 and all("first audited (ok)" in line for line in first["changes"])

    image = archive / "shelf" / f"disc{FLIPPED_DISC:02d}.iso"
    record = image.with_name(image.name + ".custody.sqlite")
    flip(image, FLIP_AT)
    second, _ = audit(catalogue, code=1)
    assert second["failed"] == [str(record)]
    checks = second["results"][str(record)]["checks"]
    assert checks["image"]["ok"] is False and checks["chain"]["ok"] and checks["record"]["ok"]
    assert f"window {FLIPPED_WINDOW}: bytes {FLIPPED_WINDOW * WINDOW_BYTES}-{SECTORS * 2048 - 1} differ" in checks["image"]["details"]
    assert "1 of 3 1 MiB windows changed" in checks["image"]["summary"]
    (change,) = second["changes"]
    assert change.startswith(f"{record}: image now FAILS: crc32, md5, sha1, sha256, xxh128 differ from the record")
    assert f"window {FLIPPED_WINDOW}" in change

    # each audit is in each record's chain (a chained event and a new seal) and in the catalogue
    for name in ("disc00", f"disc{FLIPPED_DISC:02d}"):
        path = archive / "shelf" / f"{name}.iso.custody.sqlite"
        logged = events(path, "audit")
        assert [e["details"]["audit_id"] for e in logged] == [first["audit_id"], second["audit_id"]]
        assert [e["details"]["ok"] for e in logged] == [True, name == "disc00"]
        checker = subprocess.run([sys.executable, str(ROOT / "docs" / "check_record.py"), str(path)],
                                 capture_output=True, text=True)
        assert checker.returncode == 0, checker.stdout
    with Catalogue.open(catalogue) as opened:
        assert len(opened.audits()) == 40
        failed = opened.query(QUERIES["failed_audits"]["sql"])
        assert [(row["audit_id"], row["record_path"]) for row in failed] == [(second["audit_id"], str(record))]
        assert "image:" in failed[0]["summary"]
        disc = opened.search(f"disc{FLIPPED_DISC:02d}.iso")[0]
        assert (disc["last_audit_ok"], disc["chain_head"]) == (0, second["results"][str(record)]["head"])


def test_an_interrupted_audit_resumes_and_skips_the_records_it_finished(archive):
    shelf_dir = archive / "shelf"
    seen = []

    def stop_after_five(record, result):
        seen.append(record)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=r"interrupted with \d+ of 20 records done") as stopped:
        run_audit(str(shelf_dir), workers=2, on_result=stop_after_five)
    state = json.loads((shelf_dir / ".acquire-audit.json").read_text())
    done = state["current"]["results"]
    # the five taken, and those finished or in flight at the interruption (their records hold the event)
    assert set(seen) <= set(done) and 5 <= len(done) < 20 and state["last"] is None
    assert f"interrupted with {len(done)} of 20" in str(stopped.value)

    out, stderr = audit(shelf_dir, "--workers", "2", code=0)
    assert (out["resumed"], out["records"], out["audit_id"]) == (len(done), 20, state["current"]["audit_id"])
    assert f"audit: resuming, {len(done)} of 20 records already done" in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("audit ") and "files" in line]
    assert len(lines) == 20 - len(done) and lines[-1].startswith("audit 20/20 files")
    assert " MB/s  ETA " in lines[0]
    for record in sorted(shelf_dir.glob("*.custody.sqlite")):
        # records finished before the interruption were not audited twice: one event, of that audit
        assert [e["details"]["audit_id"] for e in events(record, "audit")] == [out["audit_id"]]


def test_a_record_from_before_blake3_windows_still_verifies_and_locates_a_change(tmp_path):
    for name in ("old.iso.custody.sqlite", "old.iso.seal.json"):
        shutil.copy2(OLD_RECORDS / name, tmp_path / name)
    (tmp_path / "old.iso").write_bytes(random.Random(7).randbytes(1100 * 2048))
    record = tmp_path / "old.iso.custody.sqlite"
    checker = subprocess.run([sys.executable, str(ROOT / "docs" / "check_record.py"), str(record)],
                             capture_output=True, text=True)
    assert checker.returncode == 0, checker.stdout
    done = run_acquire("verify", record, "--no-record", check_code=0)
    assert "PASS image: md5, sha1, sha256, xxh128 and crc32 equal the recorded ones" in done.stdout
    assert "PASS seal:" in done.stdout
    flip(tmp_path / "old.iso", WINDOW_BYTES + 7)
    out, _ = audit(tmp_path, code=1)
    details = out["results"][str(record)]["checks"]["image"]["details"]
    assert details == [f"window 1: bytes {WINDOW_BYTES}-{2 * WINDOW_BYTES - 1} differ"]
    with Record.open_readonly(record) as opened:
        assert opened.window_hash() == "sha256"


def test_on_a_terminal_the_progress_bar_shows_files_bytes_rate_and_eta(collection, tmp_path):
    import io
    from acquire.audit import AuditProgress
    screen = io.StringIO()
    progress = AuditProgress(terminal=True, stream=screen)
    try:
        report = run_audit(str(collection / "shelf"), state_path=tmp_path / "state.json", record=False,
                           progress=progress)
    finally:
        progress.close()
    assert report.ok and len(report.results) == 20
    frames = [frame.replace("\x1b[2K", "") for frame in screen.getvalue().split("\r")]
    last = next(f for f in reversed(frames) if "audit 20/20 files" in f)
    plain = __import__("re").sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", last)
    total_mb = 20 * SECTORS * 2048 / 1e6
    assert f"{total_mb:.1f}/{total_mb:.1f} MB" in plain and "MB/s" in plain and "0:00:00" in plain
