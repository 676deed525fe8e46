"""`acquire export --e01`: an EnCase 6 set that other tools read back as exactly the image the record describes."""
import ctypes
import glob
import hashlib
import json
import random
import re
import shutil
import sqlite3
import subprocess

import pytest
from click.testing import CliRunner

from acquire.cli import cli
from acquire.export import libewf, parse_size
from conftest import SECTOR, make_disc, run_acquire, write_profile


def _have_libewf() -> bool:
    try:
        ctypes.CDLL(libewf.LIBRARY)
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_libewf() or not shutil.which("ewfverify"),
                                reason="needs libewf2 and ewf-tools (apt-get install libewf2 ewf-tools)")

UNREADABLE = "100-103, 2000-2010"
SECTORS = 3000


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A simulated CD-ROM imaged with two unreadable ranges and every case field given."""
    where = tmp_path_factory.mktemp("damaged")
    make_disc(where / "disc.iso", SECTORS)
    profile = write_profile(where / "disc.toml", "disc.iso", damage=[{"lbas": UNREADABLE, "kind": "unreadable"}],
                            drive={"serial": "SIM-E01", "vendor": "PLEXTOR", "product": "DVDR PX-760A",
                                   "revision": "1.07"})
    run_acquire("image", f"sim:{profile}", where / "out.iso", "--case", "2026-114", "--evidence", "item 7",
                "--examiner", "A. Smith", "--notes", "sealed bag 3", check_code=3)
    return where / "out.iso.custody.sqlite"


def record_hashes(record):
    db = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT algorithm, hex FROM hashes WHERE scope = 'image'"))
    finally:
        db.close()


def export(record, *extra, code=0):
    return run_acquire("export", record, "--e01", *extra, check_code=code)


def ewfinfo(first_segment) -> str:
    return subprocess.run(["ewfinfo", str(first_segment)], capture_output=True, text=True, check=True).stdout


def ewfverify(first_segment) -> subprocess.CompletedProcess:
    return subprocess.run(["ewfverify", "-q", str(first_segment)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def exported(damaged):
    """The damaged acquisition exported with the defaults: out.E01 beside out.iso."""
    done = export(damaged)
    return damaged.with_name("out.E01"), done


def test_the_default_output_is_the_image_name_without_iso_plus_E01_and_ewfverify_passes(exported):
    first, done = exported
    assert first.is_file() and done.stdout.startswith(f"wrote {first}\n")
    verified = ewfverify(first)
    assert verified.returncode == 0 and "ewfverify: SUCCESS" in verified.stdout, verified.stdout + verified.stderr


def test_ewfinfo_lists_the_unreadable_ranges_as_the_acquiry_errors(exported):
    info = ewfinfo(exported[0])
    section = info.split("Read errors during acquiry", 1)[1]
    assert re.findall(r"at sector\(s\): (\d+) - (\d+) number: (\d+)", section) == [
        ("100", "103", "4"), ("2000", "2010", "11")]
    assert "total number: 2" in section


def test_ewfinfo_shows_the_case_the_drive_the_medium_and_the_record_hashes(damaged, exported):
    info = ewfinfo(exported[0])
    fields = dict(re.findall(r"^\t([^:\t]+):\t+(.*)$", info, re.M))
    hashes = record_hashes(damaged)
    assert fields["Case number"] == "2026-114"
    assert fields["Evidence number"] == "item 7"
    assert fields["Examiner name"] == "A. Smith"
    assert fields["Notes"].startswith("sealed bag 3; acquire record out.iso.custody.sqlite, head ")
    assert fields["Description"] == "CD-ROM disc, 3000 sectors of 2048 bytes"
    assert fields["Model"] == "PLEXTOR DVDR PX-760A 1.07" and fields["Serial number"] == "SIM-E01"
    assert fields["Software version used"] == "0.1.0"
    assert fields["File format"] == "EnCase 6"
    assert fields["Media type"] == "optical disk (CD/DVD/BD)"
    assert (fields["Bytes per sector"], fields["Number of sectors"]) == ("2048", str(SECTORS))
    assert (fields["MD5"], fields["SHA1"]) == (hashes["md5"], hashes["sha1"])


def test_pyewf_reads_back_the_image_bytes_with_the_record_md5_and_sha256(damaged, exported):
    pyewf = pytest.importorskip("pyewf")
    handle = pyewf.handle()
    handle.open(pyewf.glob(str(exported[0])))
    try:
        data = handle.read(handle.get_media_size())
        stored_md5 = handle.get_hash_value("MD5")
    finally:
        handle.close()
    hashes = record_hashes(damaged)
    assert len(data) == SECTORS * SECTOR
    assert (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) == (hashes["md5"], hashes["sha256"])
    assert stored_md5 == hashes["md5"]


def test_dissect_evidence_reads_back_the_image_bytes_with_the_record_md5_and_sha256(damaged, exported):
    evidence = pytest.importorskip("dissect.evidence")
    files = [open(p, "rb") for p in sorted(glob.glob(str(exported[0].with_suffix(".E*"))))]
    try:
        data = evidence.EWF(files).open().read()
    finally:
        for f in files:
            f.close()
    hashes = record_hashes(damaged)
    assert (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) == (hashes["md5"], hashes["sha256"])


def test_export_no_record_leaves_the_record_and_the_image_byte_for_byte_as_they_were(damaged, tmp_path):
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (damaged, damaged.with_name("out.iso"))}
    export(damaged, "-o", tmp_path / "again.E01", "--no-record")
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before} == before
    assert not list(damaged.parent.glob(f"{damaged.name}-*"))        # no -wal, -shm or journal left


def test_export_leaves_the_image_as_it_was_and_chains_one_export_event_naming_the_segments(damaged, tmp_path):
    image = damaged.with_name("out.iso")
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    with sqlite3.connect(damaged) as db:
        events = db.execute("SELECT count(*) FROM events WHERE kind = 'export'").fetchone()[0]
    export(damaged, "-o", tmp_path / "third.E01")
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    with sqlite3.connect(damaged) as db:
        rows = db.execute("SELECT details_json FROM events WHERE kind = 'export' ORDER BY id").fetchall()
    assert len(rows) == events + 1
    assert json.loads(rows[-1][0])["e01"]["segments"] == [str(tmp_path / "third.E01")]
    assert run_acquire("verify", damaged, "--no-record", check_code=0)      # chained and sealed


def test_a_1_MiB_segment_size_gives_a_set_of_segments_that_ewfverify_passes(damaged, tmp_path):
    done = export(damaged, "--segment-size", "1M", "--compress", "none", "-o", tmp_path / "set.E01")
    segments = sorted(p.name for p in tmp_path.iterdir())
    assert segments == [f"set.E{n:02}" for n in range(1, len(segments) + 1)] and len(segments) >= 6
    assert done.stdout.startswith(f"wrote {tmp_path / 'set.E01'} .. E{len(segments):02} ({len(segments)} segments)\n")
    assert all(p.stat().st_size <= 1 << 20 for p in tmp_path.iterdir())
    verified = ewfverify(tmp_path / "set.E01")
    assert verified.returncode == 0 and "ewfverify: SUCCESS" in verified.stdout, verified.stdout + verified.stderr


def test_best_compression_is_smaller_than_none_on_a_disc_of_text(tmp_path):
    rng = random.Random(3)
    words = "custody sector optical disc examiner evidence drive hash record image track session".split()
    text = " ".join(rng.choice(words) for _ in range(700_000)).encode("ascii")
    sectors = 1500
    (tmp_path / "text.iso").write_bytes(text[: sectors * SECTOR].ljust(sectors * SECTOR, b"\n"))
    profile = write_profile(tmp_path / "text.toml", "text.iso")
    run_acquire("image", f"sim:{profile}", tmp_path / "text-out.iso", check_code=0)
    record = tmp_path / "text-out.iso.custody.sqlite"
    sizes = {}
    for level in ("none", "best"):
        export(record, "--compress", level, "-o", tmp_path / f"{level}.E01")
        sizes[level] = (tmp_path / f"{level}.E01").stat().st_size
        assert ewfverify(tmp_path / f"{level}.E01").returncode == 0
    ratio = sizes["best"] / sizes["none"]
    print(f"E01 of {sectors * SECTOR} bytes of text: none {sizes['none']} B, best {sizes['best']} B, ratio {ratio:.3f}")
    assert sizes["none"] >= sectors * SECTOR and ratio < 0.5


def test_an_image_changed_since_acquisition_is_refused_in_one_line_and_no_segment_is_left(damaged, tmp_path):
    image = tmp_path / "out.iso"
    shutil.copy(damaged.with_name("out.iso"), image)
    shutil.copy(damaged, tmp_path / damaged.name)
    with open(image, "r+b") as f:
        f.seek(1234567)
        byte = f.read(1)
        f.seek(1234567)
        f.write(bytes([byte[0] ^ 1]))
    done = export(tmp_path / damaged.name, code=1)
    assert done.stderr == (f"acquire: image {image} no longer hashes to the record's crc32, md5, sha1, sha256, xxh128; "
                           "no E01 written; run acquire verify RECORD to find the changed windows\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.iso", damaged.name]


def test_an_existing_E01_is_never_replaced(damaged, tmp_path):
    (tmp_path / "taken.E01").write_bytes(b"someone's evidence")
    done = export(damaged, "-o", tmp_path / "taken.E01", code=1)
    assert done.stderr == f"acquire: {tmp_path / 'taken.E01'} already exists; remove it or choose another -o PATH\n"
    assert (tmp_path / "taken.E01").read_bytes() == b"someone's evidence"


def test_without_libewf_one_line_says_how_to_install_it_and_exits_1(damaged, tmp_path, monkeypatch):
    monkeypatch.setattr(libewf, "LIBRARY", "libewf-not-installed.so.2")
    monkeypatch.setattr(libewf, "_lib", None)
    result = CliRunner().invoke(cli, ["export", str(damaged), "--e01", "-o", str(tmp_path / "x.E01")])
    assert result.exit_code == 1
    assert result.output == ("acquire: E01 export needs libewf (libewf-not-installed.so.2 not found); "
                             "install it with apt-get install libewf2\n")
    assert list(tmp_path.iterdir()) == []


def test_export_without_a_kind_is_a_usage_error(damaged):
    done = run_acquire("export", damaged, check_code=2)
    assert done.stderr == "acquire: nothing to export; name a kind: --e01 or --bag DIR\n"


def test_a_segment_size_below_1_MiB_is_refused_as_libewf_would_not_keep_it(damaged, tmp_path):
    done = export(damaged, "--segment-size", "512K", "-o", tmp_path / "small.E01", code=2)
    assert done.stderr == ("acquire: a segment size of 524288 bytes is below libewf's minimum of 1 MiB; "
                           "give --segment-size 1M or more\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, size", [("650M", 650 << 20), ("1500000", 1_500_000), ("2g", 2 << 30), ("64KiB", 64 << 10)])
def test_segment_sizes_are_bytes_or_binary_multiples(text, size):
    assert parse_size(text) == size
