"""`acquire image --second-read`: what was hard to read is read again past the cache, and kept only
when both reads agree (docs/imaging.md "The second read")."""
import json
import sqlite3

import pytest

from acquire.drive import device
from acquire.imaging.run import ImageOptions, acquire_image
from conftest import SECTOR, make_disc, run_acquire, write_profile

SECTORS = 4000
# 1005 shares the 32-sector copy read 992-1023 with the unreadable 1000: that read fails, so 1005
# is one of the sectors "recovered after a failure" that the second read takes again
DAMAGE = [
    {"lbas": "1000", "kind": "unreadable"},
    {"lbas": "1005", "kind": "unstable"},
    {"lbas": "2000", "kind": "flaky", "failures": 2},
]


def image(tmp_path, profile, *extra, name="out.iso", code=None):
    done = run_acquire("image", f"sim:{profile}", tmp_path / name, "--json", *extra, check_code=code)
    return json.loads(done.stdout)


def sector(data: bytes, lba: int) -> bytes:
    return data[lba * SECTOR:(lba + 1) * SECTOR]


def events(record, kind):
    with sqlite3.connect(record) as conn:
        return [json.loads(d) for (d,) in conn.execute("SELECT details_json FROM events WHERE kind = ?", (kind,))]


@pytest.fixture
def disc(tmp_path):
    source = make_disc(tmp_path / "disc.iso", SECTORS)
    profile = write_profile(tmp_path / "damaged.toml", "disc.iso", damage=DAMAGE,
                            drive={"serial": "SIM-A", "trace": "reads.log"})
    return source, profile


def test_an_unstable_sector_is_caught_by_the_second_read_zero_filled_and_recorded_with_both_hashes(tmp_path, disc):
    source, profile = disc
    out = image(tmp_path, profile, "--second-read", code=3)
    assert out["unstable"] == [[1005, 1005]]
    assert out["unreadable_ranges"] == [[1000, 1000], [1005, 1005]]
    written = (tmp_path / "out.iso").read_bytes()
    assert sector(written, 1005) == bytes(SECTOR)          # no silently wrong bytes marked as good
    found = events(tmp_path / "out.iso.custody.sqlite", "unstable-sectors")
    assert [s["lba"] for e in found for s in e["sectors"]] == [1005]
    first, second = found[0]["sectors"][0]["first_sha256"], found[0]["sectors"][0]["second_sha256"]
    assert first != second
    summary = events(tmp_path / "out.iso.custody.sqlite", "second-read")[0]
    assert summary["unstable"] == [[1005, 1005]] and summary["candidates"]["failed"] > 0


def test_a_flaky_sector_recovered_after_failures_is_read_again_and_stays_finished(tmp_path, disc):
    source, profile = disc
    out = image(tmp_path, profile, "--second-read", code=3)
    written = (tmp_path / "out.iso").read_bytes()
    assert sector(written, 2000) == sector(source, 2000)
    assert [2000, 2000] not in out["unreadable_ranges"]
    assert out["second_read"]["confirmed"] == out["second_read"]["re_read"] - 1     # all but 1005
    # the engine's failed reads of 2000, its one good read, then the second read's
    covering = [line.split()[2] for line in (tmp_path / "reads.log").read_text().splitlines()
                if line.split()[0].isdigit() and int(line.split()[0]) <= 2000 < sum(map(int, line.split()[:2]))]
    assert covering.count("ok") == 2 and covering[-1] == "ok" and "err" in covering


def test_without_the_option_nothing_is_read_again_and_the_unstable_bytes_pass_as_good(tmp_path, disc):
    source, profile = disc
    out = image(tmp_path, profile, code=3)
    assert (out["unstable"], out["second_read"]) == ([], None)
    assert out["unreadable_ranges"] == [[1000, 1000]]
    assert sector((tmp_path / "out.iso").read_bytes(), 1005) != sector(source, 1005)
    engine_only = (tmp_path / "reads.log").read_text().splitlines()
    (tmp_path / "reads.log").unlink()
    image(tmp_path, profile, "--second-read", name="again.iso", code=3)
    with_second = (tmp_path / "reads.log").read_text().splitlines()
    # the engine reads the same either way; the second read only adds reads after it
    assert with_second[:len(engine_only)] == engine_only and len(with_second) > len(engine_only)
    assert events(tmp_path / "out.iso.custody.sqlite", "second-read") == []


class Watched:
    """The guarded transport, with every READ(10) CDB's LBA, length and FUA bit (byte 1 bit 3) kept:
    the simulated drive's trace does not show FUA."""

    def __init__(self, inner, reads):
        self.inner, self.reads = inner, reads

    def execute(self, cdb, **kwargs):
        if cdb[0] == 0x28:
            self.reads.append((int.from_bytes(cdb[2:6], "big"), int.from_bytes(cdb[7:9], "big"), bool(cdb[1] & 0x08)))
        return self.inner.execute(cdb, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_second_read_uses_fua_after_a_read_half_the_disc_away(tmp_path, disc, monkeypatch):
    source, profile = disc
    reads: list[tuple[int, int, bool]] = []
    opened = device.open_transport
    monkeypatch.setattr(device, "open_transport", lambda name: Watched(opened(name), reads))
    outcome = acquire_image(f"sim:{profile}", tmp_path / "out.iso", ImageOptions(second_read=True))
    sr = outcome.second_read
    assert sr.unstable == [1005]
    trace = [x for x in (tmp_path / "reads.log").read_text().splitlines() if x.split()[0] not in ("speed", "wait")]
    assert len(trace) == len(reads)                          # the trace and the CDBs line up one to one
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as conn:
        (n,), = conn.execute("SELECT reads FROM passes WHERE phase = 'second-read'").fetchall()
    second = reads[-n:]                                      # the last pass: (a distant sector, the re-read) pairs
    assert n % 2 == 0 and all(fua for _, _, fua in second)
    for (far, far_count, _), (lba, _, _) in zip(second[0::2], second[1::2]):
        assert far_count == 1 and abs(far - lba) >= SECTORS // 4
    reread = {x for lba, count, _ in second[1::2] for x in range(lba, lba + count)}
    assert {1005, 2000} <= reread


def test_a_run_continued_in_another_drive_reads_the_first_drives_hard_sectors_again(tmp_path):
    source = make_disc(tmp_path / "disc.iso", SECTORS)
    # drive A recovers the flaky 2000 and reads the unstable 2005 (in the same failed copy read) once
    a = write_profile(tmp_path / "a.toml", "disc.iso", drive={"serial": "SIM-A"}, damage=[
        {"lbas": "2000", "kind": "flaky", "failures": 2}, {"lbas": "2005", "kind": "unstable"}])
    # drive B reads the whole disc right
    b = write_profile(tmp_path / "b.toml", "disc.iso", drive={"serial": "SIM-B"})
    first = image(tmp_path, a, code=0)
    assert first["unreadable"] == 0                          # A's wrong bytes at 2005 look good
    second = image(tmp_path, b, "--second-read", code=3)
    assert (second["resumed"], second["unstable"]) == (True, [[2005, 2005]])
    assert sector((tmp_path / "out.iso").read_bytes(), 2005) == bytes(SECTOR)
    # the next run reads 2005 in B, and reads it again because it was found unstable: now they agree
    third = image(tmp_path, b, "--second-read", code=0)
    assert third["second_read"]["candidates"]["unstable"] == 1 and third["unstable"] == []
    assert (tmp_path / "out.iso").read_bytes() == source


def test_a_slow_read_far_above_the_median_is_read_again_and_confirmed(tmp_path):
    source = make_disc(tmp_path / "disc.iso", SECTORS)
    profile = write_profile(tmp_path / "slow.toml", "disc.iso", damage=[{"lbas": "2500", "kind": "slow", "delay_s": 1.5}])
    out = image(tmp_path, profile, "--second-read", code=0)
    # the one 32-sector copy read over 2500 took 1.5 s more than its median (~0.02 s)
    assert out["second_read"]["candidates"]["slow"] == 32
    assert out["second_read"]["confirmed"] == 32 and out["unstable"] == []
    assert (tmp_path / "out.iso").read_bytes() == source


def test_the_report_has_an_unstable_sectors_line_in_json_markdown_and_html(tmp_path, disc):
    from acquire.report import build_report, render

    _, profile = disc
    image(tmp_path, profile, "--second-read", code=3)
    report = build_report(tmp_path / "out.iso.custody.sqlite")
    assert (report["damage"]["unstable"]["sectors"], report["damage"]["unstable"]["ranges"]) == (1, [[1005, 1005]])
    line = "Unstable sectors (two reads differed, --second-read): 1: 1005; 0 finished by a later run since."
    assert line in render(report, "markdown")
    assert "Unstable sectors (two reads differed, --second-read): 1: 1005" in render(report, "html")
