"""CFTT Digital Data Acquisition, the optional assertions (DA-AO) of features acquire has.

The spec's optional assertions are conditional ("if the tool logs ...", "if the tool performs an
image file integrity check ..."); these are the ones whose feature acquire implements. The numbers
of the DA-AO list could not be confirmed from the text (docs/conformance.md), so these tests are
named by the assertion's subject.
"""
import hashlib
import json
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from importlib.metadata import version

import blake3
import pytest

import cftt
from cftt import SECTOR, SECTORS
from cftt import clean_fixture, damaged_fixture  # noqa: F401  (the module's fixtures)
from conftest import run_acquire

UTC_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
WINDOW = 1 << 20


def verify(record, *extra):
    done = run_acquire("verify", record, "--json", *extra)
    out = json.loads(done.stdout)
    return done.returncode, {c["name"]: c for c in out["checks"]}


def test_DA_AO_hash_the_image_hashes_are_logged_and_are_the_acquired_datas(clean):
    data = clean.image.read_bytes()
    expected = {"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest()}
    with clean.db() as db:
        logged = dict(db.execute("SELECT algorithm, hex FROM hashes WHERE scope = 'image'"))
        (size,) = {s for (s,) in db.execute("SELECT size FROM hashes")}
    assert {k: logged[k] for k in expected} == expected and size == len(data)
    assert {k: clean.out["hashes"][k] for k in expected} == expected
    # the sidecar files in sha256sum/md5sum format agree
    assert f"{expected['sha256']}  {clean.image.name}" in clean.image.with_name(clean.image.name + ".sha256").read_text()
    assert f"{expected['md5']}  {clean.image.name}" in clean.image.with_name(clean.image.name + ".md5").read_text()


def test_DA_AO_block_hash_each_1_MiB_window_is_hashed_and_logged(clean):
    data = clean.image.read_bytes()
    with clean.db() as db:
        windows = db.execute("SELECT idx, offset, length, blake3 FROM windows ORDER BY idx").fetchall()
    # each window's strong digest is BLAKE3 (docs/record.md "windows"); the reference implementation's
    expected = [(i, off, len(data[off:off + WINDOW]), blake3.blake3(data[off:off + WINDOW]).hexdigest())
                for i, off in enumerate(range(0, len(data), WINDOW))]
    assert windows == expected and len(windows) == 6


def test_DA_AO_integrity_an_unchanged_image_file_verifies(clean, tmp_path):
    copy = cftt.copy_of(clean, tmp_path)
    code, checks = verify(copy.record)
    assert code == 0 and checks["image"]["ok"] and checks["record"]["ok"]


def test_DA_AO_integrity_a_changed_image_file_is_detected_and_its_1_MiB_window_named(clean, tmp_path):
    copy = cftt.copy_of(clean, tmp_path)
    offset = 2 * WINDOW + 4321
    with open(copy.image, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x80]))
    code, checks = verify(copy.record, "--no-record")
    assert code == 1 and not checks["image"]["ok"]
    assert checks["image"]["details"] == [f"window 2: bytes {2 * WINDOW}-{3 * WINDOW - 1} differ"]


def _have_e01_tools() -> bool:
    try:
        from test_export_e01 import _have_libewf
    except ImportError:
        return False
    import shutil
    return _have_libewf() and shutil.which("ewfinfo") is not None


@pytest.mark.skipif(not _have_e01_tools(), reason="needs libewf2 and ewf-tools (apt-get install libewf2 ewf-tools)")
def test_DA_AO_conversion_the_E01_holds_the_same_data_and_the_same_unreadable_ranges(damaged, tmp_path):
    from test_export_e01 import ewfinfo, record_hashes
    pyewf = pytest.importorskip("pyewf")
    first = tmp_path / "item7.E01"
    run_acquire("export", damaged.record, "--e01", "-o", first, check_code=0)
    handle = pyewf.handle()
    handle.open(pyewf.glob(str(first)))
    try:
        data = handle.read(handle.get_media_size())
    finally:
        handle.close()
    hashes = record_hashes(damaged.record)
    assert len(data) == SECTORS * SECTOR
    assert (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) == (hashes["md5"], hashes["sha256"])
    assert data == damaged.image.read_bytes()
    section = ewfinfo(first).split("Read errors during acquiry", 1)[1]
    errors = [(int(a), int(b), int(n)) for a, b, n in re.findall(r"at sector\(s\): (\d+) - (\d+) number: (\d+)", section)]
    with damaged.db() as db:
        unreadable = cftt.map_runs(db, finished=False)
    assert errors == [(a, b, b - a + 1) for a, b in unreadable] == [(a, b, b - a + 1) for a, b, _ in cftt.DAMAGE]


def test_DA_AO_logging_every_report_field_equals_the_record(damaged, tmp_path):
    run_acquire("report", damaged.record, "-o", tmp_path / "r.json", check_code=0)
    run_acquire("report", damaged.record, "-o", tmp_path / "r.xml", check_code=0)
    report = json.loads((tmp_path / "r.json").read_text())
    with damaged.db() as db:
        db.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row)}
        case = db.execute("SELECT case_id, evidence_id, examiner, notes, created_utc, host, user, tool_version "
                          "FROM case_info").fetchone()
        runs = db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        drives = db.execute("SELECT id, device, vendor, product, revision, serial, inquiry_hex FROM drives").fetchall()
        medium = db.execute("SELECT profile, profile_name, capacity, sector_size FROM medium").fetchone()
        hashes = {r["algorithm"]: r["hex"] for r in db.execute("SELECT algorithm, hex FROM hashes")}
        damage = db.execute("SELECT * FROM damage ORDER BY id").fetchall()
        db.row_factory = None
        unreadable = cftt.map_runs(db, finished=False)
        (finished,) = db.execute("SELECT sum(count) FROM sector_map WHERE state = 4").fetchone()
        (head,) = db.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    # the JSON report
    assert report["case"] == case and case["case_id"] == "2026-114" and case["examiner"] == "A. Smith"
    assert report["runs"] == runs
    assert [{k: d[k] for k in drives[0]} for d in report["drives"]] == drives
    assert {k: report["medium"][k] for k in medium} == medium
    assert report["image"]["hashes"] == hashes and report["image"]["size_bytes"] == SECTORS * SECTOR
    assert report["map"]["counts"]["finished"] == finished and report["map"]["unreadable_sectors"] == SECTORS - finished
    assert report["map"]["unreadable_ranges"] == [list(r) for r in unreadable]
    assert report["damage"]["rows"] == damage and report["damage"]["failed"] == len(damage)
    assert report["record"]["head_hash"] == head and report["record"]["verify"]["ok"]
    # the DFXML report
    root = ET.parse(tmp_path / "r.xml").getroot()
    ns = {"d": "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML", "acquire": "urn:acquire-disc:dfxml:1",
          "dc": "http://purl.org/dc/elements/1.1/"}
    meta = root.find("d:metadata", ns)
    for key in ("case_id", "evidence_id", "examiner", "notes", "created_utc"):
        assert meta.find(f"acquire:{key}", ns).text == case[key], key
    assert meta.find("dc:creator", ns).text == case["examiner"]
    assert meta.find("acquire:chain_head", ns).text == head
    assert [{k: d.get(k) for k in ("vendor", "product", "revision", "serial", "device")}
            for d in meta.findall("acquire:drive", ns)] == [{k: d[k] for k in ("vendor", "product", "revision", "serial", "device")}
                                                             for d in drives]
    assert {k: meta.find("acquire:medium", ns).get(k) for k in medium} == {k: str(v) for k, v in medium.items()}
    assert root.find("d:creator/d:version", ns).text == case["tool_version"]
    whole = next(r for r in root.iter(f"{{{ns['d']}}}byte_run") if r.get("{urn:acquire-disc:dfxml:1}scope") == "image")
    digests = {(h.get("type") if h.get("type") != "other" else h.get("{urn:acquire-disc:dfxml:1}algorithm")): h.text
               for h in whole.findall("d:hashdigest", ns)}
    assert digests == hashes and whole.get("len") == str(SECTORS * SECTOR)
    gaps = [(int(r.get("{urn:acquire-disc:dfxml:1}first_lba")), int(r.get("{urn:acquire-disc:dfxml:1}sectors")))
            for r in root.iter(f"{{{ns['d']}}}byte_run") if r.get("{urn:acquire-disc:dfxml:1}scope") == "unreadable"]
    assert gaps == [(a, b - a + 1) for a, b in unreadable]


def test_DA_AO_logging_the_tool_version_and_the_command_line_are_in_the_record(damaged):
    with damaged.db() as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        command, tool_version = db.execute("SELECT command, tool_version FROM runs").fetchone()
        (case_version,) = db.execute("SELECT tool_version FROM case_info").fetchone()
    installed = version("acquire-disc")
    assert meta["tool"] == "acquire" and meta["tool_version"] == tool_version == case_version == installed
    assert command == shlex.join(["acquire", *damaged.args])


def test_DA_AO_logging_the_time_of_acquisition_is_in_UTC(damaged):
    with damaged.db() as db:
        started, ended = db.execute("SELECT started_utc, ended_utc FROM runs").fetchone()
        stamps = [started, ended, *db.execute("SELECT created_utc FROM case_info").fetchone(),
                  *(t for (t,) in db.execute("SELECT time_utc FROM damage")),
                  *(t for (t,) in db.execute("SELECT time_utc FROM events"))]
    assert all(UTC_STAMP.match(t) for t in stamps), [t for t in stamps if not UTC_STAMP.match(t)]
    window = (damaged.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), damaged.ended.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert window[0] <= started <= ended <= window[1]


def _tiny_fs(tmp_path):
    import os
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    return mount_point


def test_DA_AO_space_too_little_room_for_the_image_is_reported_before_reading(clean, tmp_path):
    tiny = _tiny_fs(tmp_path)
    try:
        done = run_acquire("image", f"sim:{clean.profile}", tiny / "out.iso", "--json")
        written = sorted(p.name for p in tiny.iterdir())
    finally:
        subprocess.run(["umount", str(tiny)], check=True)
    assert done.returncode == 1, (done.stdout, done.stderr)       # refused before the work: nothing to resume
    assert done.stderr.count("\n") == 1 and "not enough space" in done.stderr and "image 6.1 MB" in done.stderr
    assert "nothing was read or written" in done.stderr
    assert written == []                                            # no image, no record
