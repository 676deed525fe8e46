"""`acquire verify`: the record, the image and the disc, each checked on its own line."""
import json
import sqlite3

from conftest import SECTOR, make_disc, run_acquire, write_profile


def acquired(tmp_path, damage=(), sectors=3000, code=None):
    make_disc(tmp_path / "disc.iso", sectors)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso", damage=list(damage))
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--json", check_code=code)
    return profile, tmp_path / "out.iso.custody.sqlite"


def verify(record, *extra):
    done = run_acquire("verify", record, "--json", *extra)
    return done.returncode, json.loads(done.stdout)


def test_an_untouched_acquisition_verifies_and_exits_0(tmp_path):
    _, record = acquired(tmp_path, code=0)
    code, out = verify(record)
    assert code == 0 and out["ok"] and [c["name"] for c in out["checks"]] == ["chain", "record", "seal", "signature", "image", "provenance",
                                                                              "completeness"]


def test_one_flipped_image_byte_fails_and_names_its_1_mib_window(tmp_path):
    _, record = acquired(tmp_path, code=0)
    image = tmp_path / "out.iso"
    data = bytearray(image.read_bytes())
    offset = 3 * (1 << 20) + 12345
    data[offset] ^= 0x01
    image.write_bytes(bytes(data))
    code, out = verify(record)
    check = {c["name"]: c for c in out["checks"]}["image"]
    assert code == 1 and not check["ok"]
    assert check["details"] == [f"window 3: bytes {3 << 20}-{(4 << 20) - 1} differ"]


def test_an_edited_damage_row_fails_and_names_the_table(tmp_path):
    _, record = acquired(tmp_path, damage=[{"lbas": "100-103", "kind": "unreadable"}], code=3)
    db = sqlite3.connect(record)
    db.execute("UPDATE damage SET lba = lba + 1 WHERE id = 1")
    db.commit()
    db.close()
    code, out = verify(record)
    check = {c["name"]: c for c in out["checks"]}["record"]
    assert code == 1 and "damage" in check["summary"]


def test_source_on_a_clean_disc_passes_and_is_appended_to_the_record(tmp_path):
    profile, record = acquired(tmp_path, code=0)
    code, out = verify(record, "--source", f"sim:{profile}")
    assert code == 0, out
    db = sqlite3.connect(record)
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'verification'").fetchone() == (1,)
    code, out = verify(record)                  # the appended event and its seal verify too
    assert code == 0, out


def test_source_reports_exactly_the_unstable_sectors_as_differing(tmp_path):
    profile, record = acquired(tmp_path, damage=[{"lbas": "700, 1500-1501", "kind": "unstable"}], code=0)
    code, out = verify(record, "--source", f"sim:{profile}")
    source = {c["name"]: c for c in out["checks"]}["source"]
    assert code == 1 and not source["ok"]
    assert source["details"] == ["sectors that differ from the image now (an unstable disc?): 700, 1500, 1501"]


def test_source_with_another_disc_fails_with_a_clear_line(tmp_path):
    _, record = acquired(tmp_path, code=0)
    make_disc(tmp_path / "other.iso", 2000, seed=5)
    other = write_profile(tmp_path / "other.toml", "other.iso")
    code, out = verify(record, "--source", f"sim:{other}")
    source = {c["name"]: c for c in out["checks"]}["source"]
    assert code == 1 and source["summary"].startswith("the disc in sim:") and "not the disc" in source["summary"]


def test_source_tries_the_unreadable_sectors_once_and_leaves_the_image_alone(tmp_path):
    profile, record = acquired(tmp_path, damage=[{"lbas": "500-501", "kind": "unreadable"}], code=3)
    before = (tmp_path / "out.iso").read_bytes()
    write_profile(profile, "disc.iso")           # the disc reads now (cleaned)
    code, out = verify(record, "--source", f"sim:{profile}")
    source = {c["name"]: c for c in out["checks"]}["source"]
    assert "2 of 2 unreadable sectors read now" in source["summary"]
    assert (tmp_path / "out.iso").read_bytes() == before
    assert before[500 * SECTOR:502 * SECTOR] == bytes(2 * SECTOR)


def test_an_acquisition_continued_in_another_drive_records_which_drive_read_what(tmp_path):
    make_disc(tmp_path / "disc.iso", 6000)
    first = write_profile(tmp_path / "a.toml", "disc.iso", drive={"serial": "DRIVE-A"},
                          events=[{"after_commands": 60, "kind": "disconnect"}])
    run_acquire("image", f"sim:{first}", tmp_path / "out.iso", "--json", check_code=4)
    second = write_profile(tmp_path / "b.toml", "disc.iso", drive={"serial": "DRIVE-B", "product": "OTHER"})
    run_acquire("image", f"sim:{second}", tmp_path / "out.iso", "--json", check_code=0)
    code, out = verify(tmp_path / "out.iso.custody.sqlite")
    provenance = {c["name"]: c for c in out["checks"]}["provenance"]
    assert code == 0 and provenance["summary"] == "finished sectors were read by 2 drive(s)"
    by_serial = {line.split("serial ")[1].split(",")[0]: int(line.split("): ")[1].split(" sectors")[0])
                 for line in provenance["details"]}
    assert set(by_serial) == {"DRIVE-A", "DRIVE-B"} and sum(by_serial.values()) == 6000


def test_an_edited_event_fails_the_chain_line_and_an_edited_row_the_record_line(tmp_path):
    _, record = acquired(tmp_path, damage=[{"lbas": "100-103", "kind": "unreadable"}], code=3)
    with sqlite3.connect(record) as db:
        db.execute("UPDATE events SET details_json = '{}' WHERE id = 3")
    code, out = verify(record)
    checks = {c["name"]: c for c in out["checks"]}
    assert code == 1 and not checks["chain"]["ok"] and checks["record"]["ok"]
    assert any("id=3" in line and "does not recompute" in line for line in checks["chain"]["details"])
    assert out["recorded"].startswith("not recorded")
