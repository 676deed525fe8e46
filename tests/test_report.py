"""`acquire report`: one dict from the record (the JSON report), rendered as HTML, Markdown and DFXML."""
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from acquire.errors import UsageError
from acquire.report import build_report, write_report
from acquire.rescue.geometry import DiscLayout
from acquire.report.svg import disc_cells, disc_map_svg, linear_map_svg
from conftest import ROOT, SECTOR, make_disc, run_acquire, write_profile

DOCS = ROOT / "docs" / "reports.md"
XSD = ROOT.parent / "shared" / "reference" / "dfxml" / "dfxml.xsd"
BAD, FINISHED = 3, 4


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A 3,000-sector CD with two unreadable ranges (one with L-EC sense) and a flaky sector."""
    tmp = tmp_path_factory.mktemp("damaged")
    make_disc(tmp / "disc.iso", 3000)
    profile = write_profile(tmp / "disc.toml", "disc.iso", damage=[
        {"lbas": "100-103", "kind": "unreadable"},
        {"lbas": "2000-2010", "kind": "unreadable", "sense": "03/11/05"},
        {"lbas": "500", "kind": "flaky", "failures": 1}])
    run_acquire("image", f"sim:{profile}", tmp / "out.iso", "--case", "2026-114", "--evidence", "E7",
                "--examiner", "A. Smith", "--notes", "shelf 3 <b>&</b>", check_code=3)
    return tmp / "out.iso.custody.sqlite"


def with_filesystem(record: Path, tmp: Path) -> Path:
    """A copy of `record` with file-system rows as the analysis writes them (the edit breaks the seal)."""
    copy = tmp / "fs" / "out.iso.custody.sqlite"
    copy.parent.mkdir(parents=True)
    shutil.copy(record, copy)
    shutil.copy(record.with_name("out.iso"), copy.with_name("out.iso"))
    db = sqlite3.connect(copy)
    db.executescript("""
        CREATE TABLE IF NOT EXISTS filesystems (id INTEGER PRIMARY KEY, kind TEXT, label TEXT, details_json TEXT, problems_json TEXT);
        CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, filesystem_id INTEGER, path TEXT, size INTEGER, is_dir INTEGER,
            extents_json TEXT, mtime_utc TEXT, mode INTEGER, unreadable_sectors INTEGER);
        CREATE TABLE IF NOT EXISTS boot_images (id INTEGER PRIMARY KEY, entry_no INTEGER, platform TEXT, emulation TEXT,
            load_segment INTEGER, sector_count INTEGER, lba INTEGER, size_bytes INTEGER, sha256 TEXT, bootable INTEGER,
            unreadable_sectors INTEGER);
        CREATE TABLE IF NOT EXISTS unreadable_tree (id INTEGER PRIMARY KEY, filesystem_id INTEGER, path TEXT, lba INTEGER,
            count INTEGER, what TEXT);
    """)
    image = copy.with_name("out.iso").read_bytes()
    boot = image[40 * SECTOR:40 * SECTOR + 2048]
    insert = lambda table, row: db.execute(  # noqa: E731
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    insert("filesystems", {"id": 1, "kind": "iso9660", "label": "DISC", "details_json": json.dumps({"volume_space_size": 3000}),
                           "problems_json": "[]"})
    insert("filesystems", {"id": 2, "kind": "joliet", "label": "Disc", "details_json": None,
                           "problems_json": json.dumps(["directory /LOST at LBA 2005 unreadable"])})
    files = [(1, 1, "/", 2048, 1, "[[20, 1]]", "2024-01-02T03:04:05Z", "dr-xr-xr-x", 0),
             (2, 1, "/README.TXT", 5000, 0, "[[60, 3]]", "2024-01-02T03:04:05Z", "-r--r--r--", 0),
             (3, 1, "/A.BIN", 10 * SECTOR, 0, "[[96, 10]]", "2024-01-02T03:04:05+01:00", None, 4),
             (4, 1, "/B.BIN", 12 * SECTOR + 100, 0, "[[1990, 15], [2200, 1]]", "not a time", None, None),
             (5, 2, "/a.bin", 10 * SECTOR, 0, "[[96, 10]]", None, None, 4)]
    for row in files:
        insert("files", dict(zip(("id", "filesystem_id", "path", "size", "is_dir", "extents_json", "mtime_utc", "mode",
                                  "unreadable_sectors"), row)))
    insert("boot_images", {"id": 1, "entry_no": 1, "platform": "x86", "emulation": "none", "load_segment": 1984,
                           "sector_count": 4, "lba": 40, "size_bytes": 2048, "sha256": hashlib.sha256(boot).hexdigest(),
                           "bootable": 1, "unreadable_sectors": 0})
    insert("unreadable_tree", {"id": 1, "filesystem_id": 2, "path": "/LOST", "lba": 2005, "count": 1, "what": "directory"})
    db.commit()
    db.close()
    return copy


def xmllint(path: Path) -> subprocess.CompletedProcess | None:
    if shutil.which("xmllint") is None or not XSD.is_file():
        print(f"skipped DFXML validation: {'xmllint missing (Debian: libxml2-utils)' if XSD.is_file() else f'no {XSD}'}")
        return None
    return subprocess.run(["xmllint", "--noout", "--schema", str(XSD), str(path)], capture_output=True, text=True)


# --- the model (the JSON report) ------------------------------------------------------------------

def test_the_report_holds_the_case_the_map_and_the_damage_of_the_record(damaged):
    r = build_report(damaged)
    assert r["case"]["case_id"] == "2026-114" and r["case"]["examiner"] == "A. Smith"
    assert r["record"]["verify"] == {"ok": True, "status": "intact", "findings": [],
                                     "summary": "record verifies: chain intact, the latest seal matches every table"}
    assert r["map"]["unreadable_ranges"] == [[100, 103], [2000, 2010]]
    assert r["map"]["counts"]["bad"] == 15 and r["map"]["counts"]["finished"] == 2985
    assert r["medium"]["family"] == "CD" and r["medium"]["geometry"]["layers"] == 1
    senses = {x["sense"]: x for x in r["damage"]["by_sense"]}
    assert set(senses) >= {"03/11/00", "03/11/05"}
    assert sum(x["failed"] + x["marginal"] for x in r["damage"]["by_sense"]) == r["damage"]["reads"]
    assert r["damage"]["first_rows"] == r["damage"]["rows"][:50]
    assert set(r["image"]["hashes"]) == {"md5", "sha1", "sha256", "xxh128", "crc32"}
    assert r["record"]["head_hash"] == r["events"]["head_hash"]
    # random sectors hold no file system: analysed at the end of `acquire image`, and found none
    assert r["filesystem"]["analysed"] is True and r["filesystem"]["filesystems"] == []


def test_provenance_says_which_drive_read_every_finished_sector(damaged):
    r = build_report(damaged)
    read = sum(p["sectors"] for p in r["provenance"])
    assert read == r["map"]["counts"]["finished"] == r["drives"][0]["sectors_read"]
    assert all(p["phase"] and p["ranges"] for p in r["provenance"])


def test_the_json_report_is_the_model_and_every_key_is_documented(damaged, tmp_path):
    out = write_report(damaged, tmp_path / "r.json")
    data = json.loads(out.read_text())
    fs = build_report(with_filesystem(damaged, tmp_path))
    documented = set(re.findall(r"`([a-z_0-9-]+)`", DOCS.read_text()))
    missing = sorted(k for k in _keys(data) | _keys(fs) if k not in documented)
    assert not missing, f"keys not in docs/reports.md: {missing}"
    assert list(data) == ["report", "record", "case", "runs", "drives", "provenance", "medium", "image", "map",
                          "passes", "damage", "settings", "verifications", "seal", "events", "filesystem",
                          "validation", "layout", "audio"]


def _keys(value, skip=("features", "toc", "disc_information", "identity", "volume", "details", "checks",
                                 "figures", "parsed")) -> set:
    keys = set()
    if isinstance(value, dict):
        for k, v in value.items():
            keys.add(k)
            if k not in skip and k != "kinds":
                keys |= _keys(v)
    elif isinstance(value, list):
        for v in value[:3]:
            keys |= _keys(v)
    return keys


def test_the_format_is_chosen_by_the_extension_and_an_unknown_one_is_refused(damaged, tmp_path):
    for ext, start in ((".html", "<!DOCTYPE html>"), (".md", "# Acquisition report"), (".json", "{"),
                       (".xml", "<?xml")):
        assert write_report(damaged, tmp_path / f"r{ext}").read_text().startswith(start)
    with pytest.raises(UsageError, match="cannot tell the report format"):
        write_report(damaged, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_reporting_leaves_the_record_unchanged(damaged, tmp_path):
    before = damaged.read_bytes()
    write_report(damaged, tmp_path / "r.html")
    assert damaged.read_bytes() == before


def test_an_edited_record_is_reported_as_not_verifying(damaged, tmp_path):
    copy = tmp_path / "out.iso.custody.sqlite"
    shutil.copy(damaged, copy)
    db = sqlite3.connect(copy)
    db.execute("UPDATE damage SET lba = lba + 1 WHERE id = 1")
    db.commit()
    db.close()
    r = build_report(copy)
    assert r["record"]["verify"]["status"] == "tampered" and not r["record"]["verify"]["ok"]
    assert "damage" in r["record"]["verify"]["summary"]
    html = write_report(copy, tmp_path / "r.html").read_text()
    assert "record does NOT verify" in html and 'class="status bad"' in html


# --- HTML and Markdown ----------------------------------------------------------------------------

def test_the_html_report_is_one_self_contained_page_with_both_maps(damaged, tmp_path):
    html = write_report(damaged, tmp_path / "r.html").read_text()
    assert html.count("<svg") == 2 and 'data-map="linear-map"' in html and 'data-map="disc-map"' in html
    assert not re.search(r"<(script|link|img|iframe)\b|\bsrc=|url\(|@import", html)
    assert "shelf 3 &lt;b&gt;&amp;&lt;/b&gt;" in html           # notes escaped, not markup
    assert "@page" in html and "@media print" in html
    for text in ("2026-114", "A. Smith", "record verifies", "03/11/05", "100-103, 2000-2010", "0 file system(s)"):
        assert text in html


def test_markdown_has_the_same_sections_as_html_and_links_its_maps(damaged, tmp_path):
    html = write_report(damaged, tmp_path / "r.html").read_text()
    md = write_report(damaged, tmp_path / "r.md").read_text()
    assert re.findall(r"<h2[^>]*>([^<]+)</h2>", html) == re.findall(r"^## (.+)$", md, re.M)
    assert "![Disc map](r.disc-map.svg)" in md and (tmp_path / "r.disc-map.svg").read_text().startswith("<svg")
    assert "| 03/11/05 |" in md


def test_damaged_files_are_listed_by_loss_and_boot_images_shown(damaged, tmp_path):
    r = build_report(with_filesystem(damaged, tmp_path))
    fs = r["filesystem"]
    assert fs["analysed"] and [f["path"] for f in fs["damaged_files"]] == ["/A.BIN", "/a.bin", "/B.BIN"]
    b = fs["damaged_files"][2]   # counted from the map: its 13 sectors from 1990 hold 2000-2002, the last in part
    assert (b["unreadable_sectors"], b["lost_bytes"]) == (3, 2 * SECTOR + 100)
    assert fs["boot_images"][0]["bootable"] is True and fs["unreadable_tree"][0]["path"] == "/LOST"
    assert r["record"]["verify"]["status"] == "tampered"   # the added tables are not under the seal
    html = write_report(with_filesystem(damaged, tmp_path / "again"), tmp_path / "r.html").read_text()
    assert html.index("/A.BIN") < html.index("/B.BIN") and "<td>none</td>" in html and "/LOST" in html


def test_extract_boot_copies_each_boot_image_and_checks_its_hash(damaged, tmp_path):
    record = with_filesystem(damaged, tmp_path)
    out = write_report(record, tmp_path / "r.json", extract_boot=tmp_path / "boot")
    done = json.loads(out.read_text())["filesystem"]["extracted_boot_images"]
    assert [(d["entry_no"], d["matches_record"], d["size_bytes"]) for d in done] == [(1, True, 2048)]
    assert Path(done[0]["path"]).read_bytes() == record.with_name("out.iso").read_bytes()[40 * SECTOR:41 * SECTOR]


# --- DFXML ----------------------------------------------------------------------------------------

def test_dfxml_validates_and_carries_hashes_byte_runs_and_unreadable_ranges(damaged, tmp_path):
    xml = write_report(with_filesystem(damaged, tmp_path), tmp_path / "r.xml")
    done = xmllint(xml)
    if done is not None:
        assert done.returncode == 0, done.stderr
    text = xml.read_text()
    r = build_report(damaged)
    for algorithm in ("md5", "sha1", "sha256"):
        assert f'<hashdigest type="{algorithm}">{r["image"]["hashes"][algorithm]}</hashdigest>' in text
    assert f'acquire:algorithm="xxh128">{r["image"]["hashes"]["xxh128"]}<' in text
    assert f'img_offset="{100 * SECTOR}" len="{4 * SECTOR}" fill="0x00"' in text
    # /B.BIN: 12 sectors + 100 bytes in two extents; the first (15 sectors) holds it all: one run
    assert '<filename>B.BIN</filename>' in text
    assert f'<byte_run file_offset="0" img_offset="{1990 * SECTOR}" len="{12 * SECTOR + 100}" />' in text
    assert "<mtime>2024-01-02T03:04:05Z</mtime>" in text and "not a time" not in text
    assert "<case_id>2026-114</case_id>" in text.replace("acquire:", "")


def test_dfxml_of_a_record_without_files_validates(damaged, tmp_path):
    done = xmllint(write_report(damaged, tmp_path / "r.xml"))
    if done is not None:
        assert done.returncode == 0, done.stderr


# --- the pictures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("family, inner, outer", [("cd", 9, 21), ("dvd", 29, 71), ("bd", 67, 163)])
def test_sectors_per_turn_are_those_of_the_mmc_field_guide(family, inner, outer):
    g = DiscLayout.for_medium(family, 1000)
    assert round(g.sectors_per_turn(g.r0_mm)) == inner and round(g.sectors_per_turn(58.0)) == outer


def test_a_full_single_layer_disc_reaches_58_mm_and_a_dual_layer_dvd_has_two_layers():
    dvd5 = DiscLayout.for_medium("dvd", 2_295_104)
    assert dvd5.layers == 1 and 57.5 < dvd5.outer_radius_mm <= 58.0
    dvd9 = DiscLayout.for_medium("dvd", 4_173_824)
    assert dvd9.layers == 2 and 55.0 < dvd9.outer_radius_mm <= 58.0


def test_edge_rot_is_an_outer_ring_of_the_disc_map():
    sectors = 300_000
    g = DiscLayout.for_medium("cd", sectors)
    rot = sectors - 20_000                      # the last 20,000 sectors: the outermost ~1.4 mm
    cells = disc_cells([(0, rot, FINISHED), (rot, sectors - rot, BAD)], g)
    bad_rings = {ring for (ring, _), state in cells.worst.items() if state == BAD}
    full = {ring for ring in bad_rings if sum(1 for (r, _), s in cells.worst.items() if r == ring and s == BAD) == 180}
    assert bad_rings == set(range(min(bad_rings), 40)) and min(bad_rings) >= 35
    assert full >= set(range(min(bad_rings) + 1, 40))   # whole rings, the innermost one perhaps in part
    assert 'data-state="bad" data-ring="39" data-bins="0-179"' in disc_map_svg(
        [(0, rot, FINISHED), (rot, sectors - rot, BAD)], g)


def test_a_100_gb_disc_draws_in_a_small_svg_quickly():
    sectors = 48_828_125                        # 100 GB BD-XL
    runs, pos = [], 0
    for k in range(5000):                       # 5,000 scattered bad sectors
        lba = (k * 9_765_619) % (sectors - 1)
        runs.append(lba)
    runs = sorted(set(runs))
    smap = []
    for lba in runs:
        if lba > pos:
            smap.append((pos, lba - pos, FINISHED))
        smap.append((lba, 1, BAD))
        pos = lba + 1
    smap.append((pos, sectors - pos, FINISHED))
    g = DiscLayout.for_medium("bd", sectors)
    start = time.monotonic()
    linear, disc = linear_map_svg(smap, sectors), disc_map_svg(smap, g)
    assert time.monotonic() - start < 5
    assert len(linear) < 600_000 and len(disc) < 600_000
    assert g.layers == 3



def test_analyze_adds_the_analysis_a_record_lacks_and_report_never_does(tmp_path, monkeypatch, fixtures_made):
    import hashlib
    from acquire.imaging import run as acquisition
    from conftest import run_acquire as _run
    # imaging alone, without the content step acquire.api adds: a record from before analysis
    outcome = acquisition.acquire_image("sim:" + str(ROOT / "fixtures" / "damaged.toml"), tmp_path / "old.iso",
                                        acquisition.ImageOptions(strategy="linear"))
    record = tmp_path / "old.iso.custody.sqlite"
    assert outcome.status == "partial"
    before = hashlib.sha256(record.read_bytes()).hexdigest()
    done = _run("report", record)
    assert json.loads(done.stdout)["filesystem"]["analysed"] is False
    assert "acquire analyze" in json.loads(done.stdout)["filesystem"]["summary"]
    assert hashlib.sha256(record.read_bytes()).hexdigest() == before         # reading is not writing
    added = _run("analyze", record)
    assert added.returncode == 0 and "sealed" in added.stdout
    with sqlite3.connect(record) as db:
        assert db.execute("SELECT count(*) FROM events WHERE kind = 'fs-analysis'").fetchone() == (1,)
    files = json.loads(_run("report", record).stdout)["filesystem"]["files"]
    assert [f["path"] for f in files if not f["is_dir"]] == ["/RANDOM.BIN"]
    assert _run("verify", record).returncode == 0          # stored and sealed
    again = _run("analyze", record)
    assert again.returncode == 0 and "nothing changed" in again.stdout
