"""CFTT Digital Data Acquisition, the mandatory assertions (DA-AM) that apply to an optical disc.

One test per assertion, named after it; docs/conformance.md is the matrix and says where the
numbering comes from. Each test images through the CLI and the simulated drive (cftt.py).
"""
import getpass
import hashlib
import json
import socket
import xml.etree.ElementTree as ET

import pytest

import cftt
from cftt import SECTOR, SECTORS
from cftt import clean_fixture, damaged_fixture  # noqa: F401  (the module's fixtures)
from conftest import run_acquire


def trace_reads(acquisition):
    """The drive's own log of every READ it answered: (lba, count, 'ok' or the sense)."""
    reads = []
    for line in acquisition.trace.read_text().splitlines():
        parts = line.split()
        if parts[0] != "speed":
            reads.append((int(parts[0]), int(parts[1]), "ok" if parts[2] == "ok" else parts[3]))
    return reads


def test_DA_AM_01_the_source_is_accessed_through_its_access_interface(clean):
    # acquire's access interface is SCSI MMC (SG_IO, or the simulated drive decoding the same CDB bytes):
    # the record names the device and keeps the drive's own INQUIRY answer, and the drive logged the READs
    with clean.db() as db:
        device, vendor, product, inquiry = db.execute("SELECT device, vendor, product, inquiry_hex FROM drives").fetchone()
    inquiry = bytes.fromhex(inquiry)
    assert device == f"sim:{clean.profile}"
    assert (inquiry[8:16].decode().strip(), inquiry[16:32].decode().strip()) == (vendor, product) == (
        "PLEXTOR", "DVDR PX-760A")
    read = set()
    for lba, count, outcome in trace_reads(clean):
        if outcome == "ok":
            read.update(range(lba, lba + count))
    assert read == set(range(SECTORS))


@pytest.mark.parametrize("profile", ["cd-rom", "dvd-rom", "bd-rom"])
def test_DA_AM_02_the_tool_acquires_the_digital_source(tmp_path, profile):
    acquisition = cftt.acquire_disc(tmp_path, sectors=2048, profile=profile)
    assert acquisition.code == 0 and acquisition.out["status"] == "complete"
    assert acquisition.image.read_bytes() == acquisition.source.read_bytes()
    with acquisition.db() as db:
        assert db.execute("SELECT profile_name, capacity FROM medium").fetchone() == (profile.upper(), 2048)


def test_DA_AM_03_the_tool_executes_in_its_execution_environment_and_records_it(clean):
    with clean.db() as db:
        host, user = db.execute("SELECT host, user FROM runs").fetchone()
        case_host, case_user = db.execute("SELECT host, user FROM case_info").fetchone()
    assert host == case_host == socket.gethostname()
    assert user == case_user == getpass.getuser()


def test_DA_AM_05_an_image_file_is_created_where_asked_with_one_sector_of_2048_bytes_per_lba(clean):
    assert clean.image.is_file() and clean.out["image"] == str(clean.image)
    assert clean.image.stat().st_size == SECTORS * SECTOR == clean.out["sectors"] * clean.out["sector_size"]


def test_DA_AM_06_all_visible_sectors_are_acquired(clean):
    # visible on an optical disc: LBA 0 .. READ CAPACITY's last LBA
    with clean.db() as db:
        (capacity,) = db.execute("SELECT capacity FROM medium").fetchone()
        runs = db.execute("SELECT start, count, state FROM sector_map").fetchall()
    source = clean.source.read_bytes()
    assert capacity == len(source) // SECTOR == SECTORS
    assert runs == [(0, SECTORS, 4)]
    assert clean.image.stat().st_size == len(source)
    assert hashlib.sha256(clean.image.read_bytes()).hexdigest() == hashlib.sha256(source).hexdigest()


def test_DA_AM_08_all_sectors_are_acquired_accurately(clean, damaged):
    source = clean.source.read_bytes()
    assert clean.image.read_bytes() == source
    with clean.db() as db:
        hashes = dict(db.execute("SELECT algorithm, hex FROM hashes WHERE scope = 'image'"))
    assert (hashes["md5"], hashes["sha1"], hashes["sha256"]) == (
        hashlib.md5(source).hexdigest(), hashlib.sha1(source).hexdigest(), hashlib.sha256(source).hexdigest())
    # on the damaged disc every sector that did read is the disc's, byte for byte
    bad = cftt.unreadable_lbas()
    image, disc = damaged.image.read_bytes(), damaged.source.read_bytes()
    wrong = [lba for lba in range(SECTORS) if lba not in bad
             and image[lba * SECTOR:(lba + 1) * SECTOR] != disc[lba * SECTOR:(lba + 1) * SECTOR]]
    assert wrong == []


def test_DA_AM_09_each_unresolved_read_error_is_logged_with_its_type_and_location(damaged):
    with damaged.db() as db:
        failed = db.execute("SELECT lba, count, sense, sense_name FROM damage WHERE outcome = 'failed' ORDER BY id").fetchall()
    # every failed READ the drive answered is in the record, in order, with the drive's own sense ...
    assert [(lba, count, sense) for lba, count, sense, _ in failed] == [r for r in trace_reads(damaged) if r[2] != "ok"]
    # ... every unreadable sector has a failed single-sector READ naming it and its own sense ...
    singles = {(lba, sense) for lba, count, sense, _ in failed if count == 1}
    assert {(lba, sense) for lba, sense in cftt.unreadable_lbas().items()} <= singles
    assert {name for _, _, sense, name in failed if sense == "03/11/05"} == {"MEDIUM ERROR: L-EC UNCORRECTABLE ERROR"}
    # ... no failure is logged where the disc is not damaged ...
    bad = cftt.unreadable_lbas()
    assert all(any(lba in bad for lba in range(first, first + count)) for first, count, _, _ in failed)
    # ... and the user is told: exit 3 and the unreadable ranges
    assert damaged.code == 3 and damaged.out["status"] == "partial"
    assert damaged.out["unreadable_ranges"] == [[first, last] for first, last, _ in cftt.DAMAGE]
    assert damaged.out["unreadable"] == len(bad)


def test_DA_AM_10_unreadable_sectors_are_benign_fill_and_their_offsets_kept(damaged, tmp_path):
    image = damaged.image.read_bytes()
    for lba in cftt.unreadable_lbas():
        assert image[lba * SECTOR:(lba + 1) * SECTOR] == bytes(SECTOR), lba
    with damaged.db() as db:
        bad = db.execute("SELECT start, start + count - 1 FROM sector_map WHERE state = 3 ORDER BY start").fetchall()
    assert bad == [(first, last) for first, last, _ in cftt.DAMAGE]
    # the reports carry the same ranges: JSON in LBAs, DFXML as zero-filled byte runs at their image offsets
    run_acquire("report", damaged.record, "-o", tmp_path / "r.json", check_code=0)
    run_acquire("report", damaged.record, "-o", tmp_path / "r.xml", check_code=0)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["map"]["bad_ranges"] == report["map"]["unreadable_ranges"] == [[a, b] for a, b in bad]
    acq = "{urn:acquire-disc:dfxml:1}"
    runs = [(int(run.get("img_offset")), int(run.get("len")), run.get("fill"))
            for run in ET.parse(tmp_path / "r.xml").iter() if run.get(f"{acq}scope") == "unreadable"]
    assert runs == [(a * SECTOR, (b - a + 1) * SECTOR, "0x00") for a, b in bad]
