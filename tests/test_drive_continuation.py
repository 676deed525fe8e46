"""Drive-aware continuation (docs/rescue.md "Another drive"): one disc, two simulated drives that
fail it in different places (docs/simulated-drive.md "Drives"); the second run reads the first
drive's failures first, and the report says per drive who read what."""
import json
import sqlite3

import pytest

from acquire.drive.sim.profile import load_profile
from acquire.errors import ProfileError
from conftest import SECTOR, make_disc, run_acquire, write_profile

SECTORS = 400
PROBE = "16 16 ok fua"                 # the identity probe a resume reads again, past the cache (imaging/resume.py)


def _profiles(tmp_path, damage):
    make_disc(tmp_path / "disc.iso", SECTORS)
    return [write_profile(tmp_path / f"disc-{x}.toml", "disc.iso", damage=damage,
                          drive={"serial": f"SIM-{x.upper()}", "trace": f"{x}.log"}) for x in ("a", "b")]


def _reads(trace):
    return [line for line in trace.read_text().splitlines() if not line.startswith("speed")]


def _per_drive(record):
    report = record.with_suffix(".report.json")
    run_acquire("report", record, "-o", report, check_code=0)
    return {d["serial"]: d for d in json.loads(report.read_text())["drives"]}


A_FAILS = {"lbas": "100-103", "kind": "unreadable", "readable_by": ["SIM-B"]}
B_FAILS = {"lbas": "200", "kind": "unreadable", "readable_by": ["SIM-A"]}
BOTH_FAIL = {"lbas": "300", "kind": "unreadable"}


def test_readable_by_names_the_drives_in_which_the_damage_is_not_there(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, B_FAILS])
    assert [d.ranges for d in load_profile(a).damage_here] == [((100, 103),)]
    assert [d.ranges for d in load_profile(b).damage_here] == [((200, 200),)]


def test_readable_by_that_is_not_a_list_of_names_is_one_line_naming_the_entry(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    bad = write_profile(tmp_path / "bad.toml", "disc.iso", damage=[{"lbas": "5", "kind": "unreadable",
                                                                     "readable_by": "SIM-B"}])
    with pytest.raises(ProfileError, match=r"\[\[damage\]\] #1 readable_by must be a non-empty list"):
        load_profile(bad)


def test_continuing_in_another_drive_reads_the_first_drives_failures_first_and_completes(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, B_FAILS])
    image, record = tmp_path / "out.iso", tmp_path / "out.iso.custody.sqlite"
    first = json.loads(run_acquire("image", f"sim:{a}", image, "--json", check_code=3).stdout)
    assert first["unreadable_ranges"] == [[100, 103]]
    second = json.loads(run_acquire("image", f"sim:{b}", image, "--json", check_code=0).stdout)
    assert second["status"] == "complete"
    assert image.read_bytes() == (tmp_path / "disc.iso").read_bytes()
    # after the identity probe, the first READ in drive B is A's failures, and nothing else is read
    assert _reads(tmp_path / "b.log") == [PROBE, "100 4 ok"]
    conn = sqlite3.connect(record)
    assert conn.execute("SELECT DISTINCT phase FROM provenance WHERE drive_id = 2").fetchall() == [("other-drive",)]
    drives = _per_drive(record)
    a_failed = sum(" err " in line for line in _reads(tmp_path / "a.log"))
    assert (drives["SIM-A"]["sectors_read"], drives["SIM-A"]["sectors_only_this_drive"],
            drives["SIM-A"]["failed_reads"]) == (SECTORS - 4, 0, a_failed)
    assert (drives["SIM-B"]["sectors_read"], drives["SIM-B"]["sectors_only_this_drive"],
            drives["SIM-B"]["failed_reads"]) == (4, 4, 0)
    assert drives["SIM-A"]["drive_time_s"] > drives["SIM-B"]["drive_time_s"] > 0


def test_a_sector_neither_drive_reads_fails_in_both_with_each_drive_in_the_record(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, B_FAILS, BOTH_FAIL])
    image, record = tmp_path / "out.iso", tmp_path / "out.iso.custody.sqlite"
    assert json.loads(run_acquire("image", f"sim:{a}", image, "--json", check_code=3).stdout)[
        "unreadable_ranges"] == [[100, 103], [300, 300]]
    second = json.loads(run_acquire("image", f"sim:{b}", image, "--json", check_code=3).stdout)
    assert second["unreadable_ranges"] == [[300, 300]]
    reads = _reads(tmp_path / "b.log")
    assert reads[:3] == [PROBE, "100 4 ok", "300 1 err 03/11/00"]
    source, got = (tmp_path / "disc.iso").read_bytes(), image.read_bytes()
    assert got[:300 * SECTOR] == source[:300 * SECTOR] and got[301 * SECTOR:] == source[301 * SECTOR:]
    assert got[300 * SECTOR:301 * SECTOR] == bytes(SECTOR)
    conn = sqlite3.connect(record)
    phase, reason = conn.execute("SELECT phase, reason FROM damage WHERE drive_id = 2 ORDER BY id").fetchone()
    assert phase == "other-drive"
    assert reason == "other-drive: failed in drive 1 (ACQUIRE SIMULATED, serial SIM-A), read first in this drive"
    drives = _per_drive(record)
    assert (drives["SIM-B"]["sectors_read"], drives["SIM-B"]["sectors_only_this_drive"],
            drives["SIM-B"]["failed_reads"]) == (4, 4, sum(" err " in line for line in reads))
    assert drives["SIM-A"]["failed_sectors"] == 5 and drives["SIM-B"]["failed_sectors"] == 1


def test_a_third_run_in_the_same_drive_does_not_read_the_other_drives_failures_first_again(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, BOTH_FAIL])
    image = tmp_path / "out.iso"
    run_acquire("image", f"sim:{a}", image, check_code=3)
    run_acquire("image", f"sim:{b}", image, check_code=3)
    run_acquire("image", f"sim:{b}", image, check_code=3)
    conn = sqlite3.connect(tmp_path / "out.iso.custody.sqlite")
    assert conn.execute("SELECT count(*) FROM damage WHERE phase = 'other-drive' AND run_id = 3").fetchone() == (0,)


def test_the_markdown_and_dfxml_reports_show_who_read_what_per_drive(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, B_FAILS])
    image, record = tmp_path / "out.iso", tmp_path / "out.iso.custody.sqlite"
    run_acquire("image", f"sim:{a}", image, check_code=3)
    run_acquire("image", f"sim:{b}", image, check_code=0)
    drives = _per_drive(record)
    run_acquire("report", record, "-o", tmp_path / "r.md", check_code=0)
    run_acquire("report", record, "-o", tmp_path / "r.xml", check_code=0)
    md, xml = (tmp_path / "r.md").read_text(), (tmp_path / "r.xml").read_text()
    assert ("| id | device | drive | serial | runs | sectors read | only this drive | failed reads | sectors failed "
            "| drive time (s) |") in md
    b_time = drives["SIM-B"]["drive_time_s"]
    assert f"| 2 | sim:{b} | ACQUIRE SIMULATED 1.00 | SIM-B | 2 | 4 | 4 | 0 | 0 | {b_time} |" in md
    assert (f'serial="SIM-B" sectors_read="4" sectors_only_this_drive="4" failed_reads="0" failed_sectors="0" '
            f'drive_time_s="{b_time}"') in xml


def test_the_linear_engine_also_reads_the_other_drives_failures_first(tmp_path):
    a, b = _profiles(tmp_path, [A_FAILS, B_FAILS])
    image = tmp_path / "out.iso"
    run_acquire("image", f"sim:{a}", image, "--strategy", "linear", check_code=3)
    run_acquire("image", f"sim:{b}", image, "--strategy", "linear", check_code=0)
    assert _reads(tmp_path / "b.log") == [PROBE, "100 4 ok"]
    assert image.read_bytes() == (tmp_path / "disc.iso").read_bytes()


def test_on_a_dvd_a_failed_ecc_block_of_the_other_drive_is_read_whole_then_scraped_in_this_one(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    damage = [{"lbas": "64-69, 71-79", "kind": "unreadable", "readable_by": ["SIM-B"]},
              {"lbas": "70", "kind": "unreadable"}]
    a, b = [write_profile(tmp_path / f"disc-{x}.toml", "disc.iso", damage=damage, profile="dvd-rom",
                          drive={"serial": f"SIM-{x.upper()}", "trace": f"{x}.log"}) for x in ("a", "b")]
    image = tmp_path / "out.iso"
    run_acquire("image", f"sim:{a}", image, check_code=3)
    done = json.loads(run_acquire("image", f"sim:{b}", image, "--json", check_code=3).stdout)
    assert done["unreadable_ranges"] == [[70, 70]]
    reads = _reads(tmp_path / "b.log")
    assert reads[1] == "64 16 err 03/11/00"          # the unit A failed, whole, first
    source, got = (tmp_path / "disc.iso").read_bytes(), image.read_bytes()
    assert got[:70 * SECTOR] == source[:70 * SECTOR] and got[71 * SECTOR:] == source[71 * SECTOR:]


def test_the_other_drive_runs_are_the_per_sector_definition_on_random_damage_rows():
    """other_drive_failures sweeps the rows' edges; checked against the definition, sector by
    sector: unfinished, failed by another drive, not failed by this one, runs by who failed them."""
    import random
    import sqlite3 as sql
    from acquire.imaging import continuation
    from acquire.rescue.sectormap import SectorMap, State

    class Rows:                                   # what other_drive_failures reads of a Record
        def __init__(self, rows):
            conn = sql.connect(":memory:")
            conn.execute("CREATE TABLE drives (id, device, vendor, product, serial)")
            conn.executemany("INSERT INTO drives VALUES (?, 'd', 'V', 'P', ?)", [(i, f"S{i}") for i in (1, 2, 3)])
            conn.execute("CREATE TABLE damage (lba, count, drive_id, outcome)")
            conn.executemany("INSERT INTO damage VALUES (?, ?, ?, 'failed')", rows)
            self.db = type("Db", (), {"conn": conn})()

    rng = random.Random(2026)
    for _ in range(300):
        smap = SectorMap(500)
        for _ in range(5):
            smap.set(rng.randrange(490), rng.randrange(1, 10), State(rng.randrange(5)))
        rows = [(rng.randrange(480), rng.randrange(1, 20), rng.randint(1, 3)) for _ in range(rng.randrange(12))]
        me = rng.randint(1, 3)
        failed, own = {}, set()
        for lba, count, by in rows:
            for x in range(lba, lba + count):
                if smap.state_at(x) != State.FINISHED:
                    (own.add(x) if by == me else failed.setdefault(x, set()).add(by))
        label = {i: f"drive {i} (V P, serial S{i})" for i in (1, 2, 3)}
        expected = []
        for x in sorted(failed.keys() - own):
            who = " and ".join(label[d] for d in sorted(failed[x]))
            if expected and expected[-1][0] + expected[-1][1] == x and expected[-1][2] == who:
                expected[-1][1] += 1
            else:
                expected.append([x, 1, who])
        assert continuation.other_drive_failures(Rows(rows), me, smap) == tuple(map(tuple, expected))
