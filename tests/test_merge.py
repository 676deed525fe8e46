"""`acquire merge` (copies of one pressing into one image) and `acquire verify --against` (two
acquisitions compared sector by sector): docs/merge.md."""
import hashlib
import json
import sqlite3

from conftest import SECTOR, make_disc, run_acquire, write_profile

SECTORS = 3000
DAMAGE_A = [{"lbas": "100-149", "kind": "unreadable"}, {"lbas": "2000-2009", "kind": "unreadable"}]
DAMAGE_B = [{"lbas": "1200-1263", "kind": "unreadable"}]


def copy(tmp_path, name, source="disc.iso", damage=(), code=None):
    """One physical copy of the disc in `source`, imaged into its own directory."""
    profile = write_profile(tmp_path / f"{name}.toml", source, damage=list(damage), drive={"serial": f"SIM-{name}"})
    (tmp_path / name).mkdir()
    run_acquire("image", f"sim:{profile}", tmp_path / name / "copy.iso", "--json", check_code=code)
    return tmp_path / name / "copy.iso.custody.sqlite"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merge(*args, code=None):
    done = run_acquire("merge", *args, "--json", check_code=code)
    return done, json.loads(done.stdout) if done.stdout.strip() else None


def test_two_copies_with_different_damage_merge_into_the_source_image(tmp_path):
    data = make_disc(tmp_path / "disc.iso", SECTORS)
    a, b = copy(tmp_path, "a", damage=DAMAGE_A, code=3), copy(tmp_path, "b", damage=DAMAGE_B, code=3)
    before = {p: sha256(p) for p in (a, b, a.with_name("copy.iso"), b.with_name("copy.iso"))}
    out = tmp_path / "merged.iso"
    done, result = merge(a, b, "-o", out, code=0)
    assert result["status"] == "complete" and out.read_bytes() == data
    assert result["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert (result["agreed"], result["single"]) == (SECTORS - 60 - 64, 60 + 64)
    by_copy = {s["copy"]: s for s in result["sources"]}
    assert (by_copy[1]["only_this_copy"], by_copy[2]["only_this_copy"]) == (64, 60)
    assert {p: sha256(p) for p in before} == before              # the sources are only read
    db = sqlite3.connect(out.with_name("merged.iso.custody.sqlite"))
    rows = db.execute("SELECT p.start, p.count, d.device FROM provenance p JOIN drives d ON d.id = p.drive_id "
                      "WHERE p.phase = 'merge' ORDER BY p.start").fetchall()
    assert _runs_by_copy(rows) == [(0, 100, 1), (100, 50, 2), (150, 1850, 1), (2000, 10, 2), (2010, 990, 1)]
    event = json.loads(db.execute("SELECT details_json FROM events WHERE kind = 'merge'").fetchone()[0])
    assert [s["chain_head"] for s in event["sources"]] == [_head(a), _head(b)]
    assert event["sources"][0]["image_hashes"]["sha256"] == before[a.with_name("copy.iso")]
    assert db.execute("SELECT state, sum(count) FROM sector_map GROUP BY state").fetchall() == [(4, SECTORS)]
    db.close()
    assert run_acquire("verify", out.with_name("merged.iso.custody.sqlite"), "--no-record").returncode == 0
    assert (tmp_path / "merged.iso.sha256").read_text().endswith(f"{hashlib.sha256(data).hexdigest()}  merged.iso\n")


def _runs_by_copy(rows):
    out = []
    for start, count, device in rows:
        copy_no = int(device.split(":")[0].split()[1])
        if out and out[-1][2] == copy_no and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + count, copy_no)
        else:
            out.append((start, count, copy_no))
    return out


def _head(record):
    db = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
    try:
        return db.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]
    finally:
        db.close()


def test_sectors_no_copy_read_are_zero_filled_not_finished_and_exit_3(tmp_path):
    data = make_disc(tmp_path / "disc.iso", SECTORS)
    a = copy(tmp_path, "a", damage=[{"lbas": "500-509", "kind": "unreadable"}], code=3)
    b = copy(tmp_path, "b", damage=[{"lbas": "505-519", "kind": "unreadable"}], code=3)
    out = tmp_path / "merged.iso"
    _, result = merge(a, b, "-o", out, code=3)
    assert result["status"] == "partial" and result["unread_ranges"] == [[505, 509]]
    merged = out.read_bytes()
    assert merged[505 * SECTOR:510 * SECTOR] == bytes(5 * SECTOR)
    assert merged[:505 * SECTOR] == data[:505 * SECTOR] and merged[510 * SECTOR:] == data[510 * SECTOR:]


def test_a_different_pressing_is_refused_with_the_lba_and_nothing_is_written(tmp_path):
    data = bytearray(make_disc(tmp_path / "disc.iso", SECTORS))
    data[1777 * SECTOR + 10] ^= 0xFF                            # another pressing: one sector differs
    (tmp_path / "other.iso").write_bytes(bytes(data))
    a, b = copy(tmp_path, "a", damage=DAMAGE_A, code=3), copy(tmp_path, "b", damage=DAMAGE_B, code=3)
    c = copy(tmp_path, "c", source="other.iso", code=0)
    before = {p: sha256(p) for p in (a, b, c)}
    out = tmp_path / "merged.iso"
    done, result = merge(a, b, c, "-o", out, code=1)
    # refused by the full pass, or by the sample when its seed (the sources' chain heads, which
    # hold the runs' times) happens to draw LBA 1777: either way the LBA is named
    by_pass = done.stderr.startswith("acquire: refused: the copies differ in 1 sectors both read")
    by_sample = done.stderr.startswith("acquire: refused: the copies differ in sectors both read (1 of 256 sampled)")
    assert by_pass or by_sample, done.stderr
    assert "LBA 1777: copy 3 differs from copy 1" in done.stderr and result["status"] == "refused"
    assert "1 MiB windows 3" in done.stderr or by_sample
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".merged", "merged"))) == []
    assert {p: sha256(p) for p in before} == before


def test_a_pressing_that_differs_everywhere_is_refused_by_the_sample_before_the_full_pass(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    make_disc(tmp_path / "other.iso", SECTORS, seed=99)
    a, c = copy(tmp_path, "a", damage=DAMAGE_A, code=3), copy(tmp_path, "c", source="other.iso", code=0)
    done, _ = merge(a, c, "-o", tmp_path / "merged.iso", code=1)
    assert done.stderr.startswith("acquire: refused: the copies differ in sectors both read (256 of 256 sampled)")
    assert not (tmp_path / "merged.iso").exists() and not (tmp_path / ".merged.iso.merging").exists()


def test_another_capacity_is_refused_before_any_sector_is_compared(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    make_disc(tmp_path / "short.iso", SECTORS - 1)
    a, c = copy(tmp_path, "a", code=0), copy(tmp_path, "c", source="short.iso", code=0)
    done, _ = merge(a, c, "-o", tmp_path / "merged.iso", code=1)
    assert "is not of the same pressing as copy 1: it differs in capacity" in done.stderr
    assert f"capacity: copy 1 {SECTORS}, copy 2 {SECTORS - 1}" in done.stderr


def test_an_edited_source_image_is_refused_naming_its_window(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    a, b = copy(tmp_path, "a", code=0), copy(tmp_path, "b", damage=DAMAGE_B, code=3)
    image = b.with_name("copy.iso")
    raw = bytearray(image.read_bytes())
    raw[1230 * SECTOR] ^= 1                                      # inside b's unread range: no comparison sees it
    image.write_bytes(bytes(raw))
    done, _ = merge(a, b, "-o", tmp_path / "merged.iso", code=1)
    assert "copy 2: its image" in done.stderr and "1 MiB window 2" in done.stderr


def test_verify_against_another_acquisition_of_the_same_disc_counts_agreement(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    a, b = copy(tmp_path, "a", damage=DAMAGE_A, code=3), copy(tmp_path, "b", damage=DAMAGE_B, code=3)
    done = run_acquire("verify", a, "--against", b, "--json")
    out = json.loads(done.stdout)
    against = {c["name"]: c for c in out["checks"]}["against"]
    assert done.returncode == 0 and against["ok"], against
    assert against["summary"] == (f"{SECTORS - 124} sectors agree, 0 differ; 64 only in this record, "
                                  f"60 only in {b.name}")
    db = sqlite3.connect(a)
    event = json.loads(db.execute("SELECT details_json FROM events WHERE kind = 'verification'").fetchone()[0])
    assert event["against"]["agree"] == SECTORS - 124 and event["against"]["chain_head"] == _head(b)
    db.close()


def test_verify_against_finds_one_changed_sector_with_its_lba_and_window(tmp_path):
    make_disc(tmp_path / "disc.iso", SECTORS)
    a, b = copy(tmp_path, "a", code=0), copy(tmp_path, "b", code=0)
    other = tmp_path / "changed.iso"
    raw = bytearray(b.with_name("copy.iso").read_bytes())
    raw[2222 * SECTOR + 5] ^= 0x10
    other.write_bytes(bytes(raw))
    before = sha256(a)
    done = run_acquire("verify", a, "--against", other, "--json", "--no-record")
    against = {c["name"]: c for c in json.loads(done.stdout)["checks"]}["against"]
    assert done.returncode == 1 and not against["ok"]
    assert against["summary"] == f"{SECTORS - 1} sectors agree, 1 differ; 0 only in this record, 0 only in changed.iso"
    assert against["details"] == ["differing sectors: 2222", "in 1 MiB windows: 4"]
    assert sha256(a) == before
    text = run_acquire("verify", a, "--against", other, "--no-record").stdout
    assert "FAIL against: 2999 sectors agree, 1 differ" in text
