"""`acquire validate` without QEMU: independent readers against the analysis, the record and the seal.

The boot and mount checks (QEMU) are in tests/e2e/test_validate_in_qemu.py; here they are switched off or
shown skipped with the way to install QEMU. Each disc is made by xorriso and imaged through the
simulated drive, so the record is a real acquisition's.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import run_acquire, write_profile

from acquire.fs.analyze import analyze_image
from acquire.validate import mount, tree

READERS = ("xorriso", "sleuthkit", "7z", "isoinfo")
NEEDED = ("xorriso", "fls", "istat", "7z", "isoinfo")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in NEEDED),
                                reason="needs xorriso, sleuthkit, p7zip-full, genisoimage (.ci/run installs them)")
VALIDATE_ON = {"ACQUIRE_NO_VALIDATE": ""}


def make_iso(tmp_path: Path) -> Path:
    tree_dir = tmp_path / "tree"
    (tree_dir / "docs" / "a long directory name").mkdir(parents=True)
    (tree_dir / "docs" / "a long directory name" / "Mixed Case Report.txt").write_text("report\n" * 300)
    (tree_dir / "data.bin").write_bytes(bytes(range(256)) * 40)
    (tree_dir / "empty.txt").write_bytes(b"")
    iso = tmp_path / "src.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "VALIDATE", "-o", str(iso), str(tree_dir)],
                   check=True, capture_output=True)
    return iso


def acquire(tmp_path: Path, iso: Path, name: str = "disc.iso", code: int = 0) -> Path:
    profile = write_profile(tmp_path / f"{name}.toml", iso.name)
    run_acquire("image", f"sim:{profile}", tmp_path / name, "--no-validate", check_code=code)
    return tmp_path / f"{name}.custody.sqlite"


def validate(record: Path, *extra, env=None) -> tuple[int, dict]:
    done = run_acquire("validate", record, "--json", *extra, env=env)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def by_name(out: dict) -> dict:
    return {c["check"]: c for c in out["checks"]}


def corrupt_size(iso: Path, path: str, new_size: int) -> int:
    """Change a file's data length in its ISO 9660 directory record (both byte orders), not in Joliet's.
    ECMA-119 9.1: bytes 10-17 of a directory record hold the data length, LE then BE."""
    analysis = analyze_image(iso, None)
    primary = next(fs.id for fs in analysis.filesystems if fs.kind == "iso9660")
    entry = next(f for f in analysis.files if f.filesystem_id == primary and f.path == path)
    data = bytearray(iso.read_bytes())
    name = path.rsplit("/", 1)[1].upper().encode() + b";1"
    at = data.index(name, entry.entry_lba * 2048, (entry.entry_lba + 1) * 2048) - 33   # the name starts at byte 33
    old = struct.unpack_from("<I", data, at + 10)[0]
    struct.pack_into("<I", data, at + 10, new_size)
    struct.pack_into(">I", data, at + 14, new_size)
    iso.write_bytes(data)
    return old


def test_every_reader_agrees_on_a_clean_disc_and_the_result_is_recorded(tmp_path):
    record = acquire(tmp_path, make_iso(tmp_path))
    code, out = validate(record, "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers
    for name in READERS:
        fig = readers["figures"][name]
        assert fig["outcome"] == "pass" and fig["entries"] >= 5 and fig["disagreement_count"] == 0, (name, fig)
    assert out["recorded"].startswith("recorded: 1 chained 'validation' event")
    assert run_acquire("verify", record, "--no-record").returncode == 0


def test_a_udf_bridge_disc_is_read_by_7zip_as_udf_and_udfinfo_agrees_on_the_label(tmp_path):
    tree_dir = tmp_path / "tree"
    (tree_dir / "Sub").mkdir(parents=True)
    (tree_dir / "Sub" / "Hello.txt").write_text("hello\n")
    (tree_dir / "data.bin").write_bytes(bytes(5000))
    iso = tmp_path / "src.iso"
    subprocess.run(["genisoimage", "-quiet", "-udf", "-J", "-R", "-V", "UDFT", "-o", str(iso), str(tree_dir)],
                   check=True, capture_output=True)
    record = acquire(tmp_path, iso)
    code, out = validate(record, "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    assert readers["figures"]["7z (udf)"]["compared_with"] == "acquire udf"
    assert readers["figures"]["7z (udf)"]["entries"] == 3
    if shutil.which("udfinfo"):
        assert "udfinfo: label 'UDFT', acquire 'UDFT': agree" in readers["details"]


def test_image_validates_at_its_end_unless_told_not_to(tmp_path):
    iso = make_iso(tmp_path)
    profile = write_profile(tmp_path / "drive.toml", iso.name)
    done = run_acquire("image", f"sim:{profile}", tmp_path / "a.iso", "--no-validate", "--json", env=VALIDATE_ON)
    assert done.returncode == 0 and "validation" not in json.loads(done.stdout)
    # with validation on and no QEMU on PATH: the readers run, boot and mount say what to install
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in NEEDED:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    done = run_acquire("image", f"sim:{profile}", tmp_path / "b.iso", "--json", env={**VALIDATE_ON, "PATH": str(bin_dir)})
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["status"] == "complete"
    assert [c["outcome"] for c in out["validation"]["checks"]] == ["pass", "skipped", "skipped"]
    conn = sqlite3.connect(tmp_path / "b.iso.custody.sqlite")
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'validation'").fetchone()[0] == 3


def test_a_corrupted_directory_record_makes_readers_disagree_and_names_the_path(tmp_path):
    iso = make_iso(tmp_path)
    old = corrupt_size(iso, "/data.bin", 1234)
    record = acquire(tmp_path, iso)
    code, out = validate(record, "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 1 and readers["outcome"] == "fail" and "/data.bin" in readers["summary"]
    said = {name: readers["figures"][name]["disagreements"] for name in READERS}
    lines = [line for found in said.values() for line in found]
    assert lines and all(line.startswith("/data.bin: size:") for line in lines), said
    # the readers of the ISO 9660 tree read the changed length; those of the Joliet tree the old one
    assert any(f"1234" in line for line in lines) and any(f"{old}" in line for line in lines)


def test_the_validation_rows_are_covered_by_the_seal(tmp_path):
    record = acquire(tmp_path, make_iso(tmp_path))
    validate(record, "--no-boot", "--no-mount")
    conn = sqlite3.connect(record)
    (event_id, details), = conn.execute("SELECT id, details_json FROM events WHERE kind = 'validation'").fetchall()
    changed = details.replace('"outcome":"pass"', '"outcome":"fail"')
    assert changed != details
    conn.execute("UPDATE events SET details_json = ? WHERE id = ?", (changed, event_id))
    conn.commit()
    conn.close()
    done = run_acquire("verify", record, "--no-record", "--json")
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert done.returncode == 1 and not checks["chain"]["ok"], checks["chain"]
    assert f"events id={event_id}" in json.dumps(checks["chain"])


def test_without_qemu_the_boot_check_says_how_to_install_it_and_the_readers_still_run(tmp_path):
    record = acquire(tmp_path, make_iso(tmp_path))
    bin_dir = tmp_path / "bin"                       # the readers, but no qemu-system-x86_64
    bin_dir.mkdir()
    for tool in NEEDED:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    code, out = validate(record, env={"PATH": str(bin_dir)})
    checks = by_name(out)
    assert code == 0 and checks["readers"]["outcome"] == "pass"
    assert checks["boot"]["outcome"] == "skipped" and "apt-get install qemu-system-x86 ovmf" in checks["boot"]["summary"]
    assert checks["mount"]["outcome"] == "skipped" and "qemu-system-x86" in checks["mount"]["summary"]


def test_every_report_format_shows_the_checks(tmp_path):
    record = acquire(tmp_path, make_iso(tmp_path))
    validate(record, "--no-boot", "--no-mount")
    report = json.loads(run_acquire("report", record, check_code=0).stdout)
    assert report["validation"]["validated"] and report["validation"]["checks"][0]["check"] == "readers"
    for ext in ("html", "md", "xml"):
        run_acquire("report", record, "-o", tmp_path / f"r.{ext}", check_code=0)
    assert "xorriso, sleuthkit, 7z, isoinfo agree" in (tmp_path / "r.md").read_text()
    assert "xorriso, sleuthkit, 7z, isoinfo agree" in (tmp_path / "r.html").read_text()
    xml = (tmp_path / "r.xml").read_text()
    assert '<acquire:check' in xml and 'name="readers"' in xml and 'outcome="pass"' in xml
    xsd = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dfxml" / "dfxml.xsd"
    if shutil.which("xmllint") and xsd.is_file():
        done = subprocess.run(["xmllint", "--noout", "--schema", str(xsd), str(tmp_path / "r.xml")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


# --- parsers of the tools' and the guest's output -----------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_the_mount_guests_output_parser_takes_any_text(text):
    report = mount.parse(text)
    assert all(isinstance(v, str) for v in [*report.failures.values(), *report.damaged.values()])
    for listing in report.listings.values():
        assert all(key == tree.norm(key) for key in listing.entries)


# as printed by the guest's busybox (see mount.INIT) for the disc of make_iso; the MD5 from `md5sum`
GUEST_LINES = ("E|directory|2048|1796231655|.\nE|regular file|5000|1796231655|./data.bin\n"
               "E|directory|2048|1796231655|./Sub\n"
               "H|eb42912c8547d788c6efa0ac6169f9cbbdd7f2c17c51606a773613139172571b  ./data.bin\n")
GUEST_MD5 = "3a4aa57cba432a701e595c0a8e0ea60c"


def test_the_mount_parser_reads_the_guests_lines():
    serial = (f"VALIDATE-MOUNT-BEGIN iso9660\n{GUEST_LINES}VALIDATE-MOUNT-END iso9660 4 {GUEST_MD5}\n"
              "VALIDATE-MOUNT-FAILED udf wrong fs type\n")
    report = mount.parse(serial)
    entries = report.listings["iso9660"].entries
    assert set(entries) == {"/data.bin", "/sub"} and entries["/data.bin"].size == 5000
    assert entries["/data.bin"].mtime == 1796231655 and entries["/sub"].is_dir
    assert report.failures == {"udf": "wrong fs type"} and report.damaged == {}
    assert entries["/data.bin"].sha256 == "eb42912c8547d788c6efa0ac6169f9cbbdd7f2c17c51606a773613139172571b"


def test_a_name_that_is_no_utf8_is_checked_as_sent_and_listed_as_text():
    # run_guest decodes the report with surrogateescape, so that the MD5 is over the bytes sent
    body = b"E|regular file|5|1796231655|./caf\xe9.txt\n"
    end = b"VALIDATE-MOUNT-END iso9660 1 " + hashlib.md5(body).hexdigest().encode() + b"\n"
    report = mount.parse((b"VALIDATE-MOUNT-BEGIN iso9660\n" + body + end).decode(errors="surrogateescape"))
    assert report.damaged == {} and list(report.listings["iso9660"].entries) == ["/caf\ufffd.txt"]


@pytest.mark.parametrize("serial, how", [
    # a byte lost before the marker: the marker still counts, the lost newline does not
    (f"\x1bc\x1b[2VALIDATE-MOUNT-BEGIN iso9660\n{GUEST_LINES.replace(chr(10), '', 1)}"
     f"VALIDATE-MOUNT-END iso9660 4 {GUEST_MD5}\n", "3 lines came where the guest sent 4"),
    (f"VALIDATE-MOUNT-BEGIN iso9660\n{GUEST_LINES.replace('5000', '5001')}VALIDATE-MOUNT-END iso9660 4 {GUEST_MD5}\n",
     "a line came changed (its MD5 differs)"),
    (f"{GUEST_LINES}VALIDATE-MOUNT-END iso9660 4 {GUEST_MD5}\n", "its BEGIN line did not come"),
    (f"VALIDATE-MOUNT-BEGIN iso9660\n{GUEST_LINES}", "its END line did not come (4 lines did)"),
])
def test_a_report_damaged_on_its_way_is_told_from_a_tree_that_differs(serial, how):
    report = mount.parse(serial)
    assert report.listings == {} and report.damaged == {"iso9660": how}


@pytest.mark.parametrize("path, normal", [("/SUB/HELLO_WO.TXT;1", "/sub/hello_wo.txt"), ("/README.;1", "/readme"),
                                          ("Sub//Hello_World.txt", "/sub/hello_world.txt"), ("/", "/")])
def test_paths_compare_in_one_normal_form(path, normal):
    assert tree.norm(path) == normal


# --- boot planning and classification (no QEMU: the texts are what SeaBIOS 1.16.2, OVMF 2022.11 and
# GRUB 2.06 printed in the e2e runs, tests/e2e/test_validate_in_qemu.py) -----------------------------------------

from acquire.validate import boot, qemu  # noqa: E402


def test_a_second_bios_entry_is_named_not_booted_and_a_hybrid_mbr_is_a_disk_boot(tmp_path):
    tree_dir = tmp_path / "tree"
    tree_dir.mkdir()
    (tree_dir / "a.img").write_bytes(bytes(2048))
    (tree_dir / "b.img").write_bytes(bytes(2048))
    iso = tmp_path / "two.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-b", "a.img", "-no-emul-boot", "-eltorito-alt-boot",
                    "-b", "b.img", "-no-emul-boot", "-o", str(iso), str(tree_dir)], check=True, capture_output=True)
    ways, decided = boot.ways(analyze_image(iso, None))
    assert [w.name for w in ways] == ["boot cd bios entry 1"]
    assert [(c.name, c.outcome) for c in decided] == [("boot cd bios entry 2", "skipped")]
    assert "boot manager's choice" in decided[0].summary


def run(serial: str, screen: str = "") -> qemu.Run:
    return qemu.Run(serial, screen, None, 1.0, False, [])


@pytest.mark.parametrize("serial, outcome, words", [
    ("SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from DVD/CD...\nWelcome to GRUB!\n", "booted", "GRUB"),
    ("SeaBIOS (version 1.16.2-debian-1.16.2-1)\n\nBooting from DVD/CD...\n\nACQUIRE-BOOT-TEST-OK", "booted",
     "'ACQUIRE-BOOT-TEST-OK'"),
    ("SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from DVD/CD...\nBoot failed: Could not read from CDROM "
     "(code 0004)\nBooting from ROM...\nBoot failed: could not read the boot disk\n\nNo bootable device.\n",
     "not bootable", "No bootable device."),
    ('BdsDxe: failed to load Boot0001 "UEFI QEMU DVD-ROM QM00003 " from PciRoot(0x0)/Pci(0x1,0x1)/Ata(Secondary,'
     'Master,0x0): Not Found\nBdsDxe: starting Boot0002 "EFI Internal Shell"\nUEFI Interactive Shell v2.2\nShell> ',
     "not bootable", "UEFI Interactive Shell"),
    ("SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from DVD/CD...\n", "no result", "nothing recognised"),
])
def test_the_outcome_is_classified_from_what_the_machine_printed(serial, outcome, words):
    found, summary, _ = boot.classify(run(serial), 30)
    assert found == outcome and words in summary, summary


def test_grub_menu_entries_do_not_pass_for_other_loaders():
    # GRUB's menu lists "Memtest86+" and "Microsoft Windows": GRUB started, not they
    screen = "GNU GRUB  version 2.06-13+deb12u2\n*GNU/Linux\n Microsoft Windows\n Memtest86+\n"
    assert boot.classify(run("", screen), 30)[2] == {"loader": "GRUB", "loaders": ["GRUB"]}


def test_validate_adds_nothing_to_a_record_that_does_not_verify(tmp_path):
    record = acquire(tmp_path, make_iso(tmp_path))
    conn = sqlite3.connect(record)
    conn.execute("UPDATE case_info SET examiner = 'someone else'")
    conn.commit()
    conn.close()
    before = record.read_bytes()
    code, out = validate(record, "--no-boot", "--no-mount")
    assert out["recorded"].startswith("not recorded: the record itself does not verify")
    assert record.read_bytes() == before


_names = st.text(alphabet="abcXYZ._ -;1", min_size=1, max_size=8).filter(lambda n: tree.norm(n) != "/")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_names, st.tuples(st.integers(0, 10**6), st.integers(20, 10**5)), max_size=20),
       st.sampled_from(["size", "lba", None]))
def test_a_reader_agreeing_with_the_analysis_has_no_differences_and_one_changed_field_is_named(files, change):
    view = {tree.norm("/d/" + n): tree.Seen("/d/" + n, False, size, lba) for n, (size, lba) in files.items()}
    listing = tree.Listing("r", "pkg", "cmd", entries=dict(view))
    assert tree.compare(listing, {"acquire iso9660": view}, {})[1] == []
    if change and view:
        key = sorted(view)[0]
        old = view[key]
        listing.entries[key] = tree.Seen(old.path, False, old.size + 1 if change == "size" else old.size,
                                         old.lba + 1 if change == "lba" else old.lba)
        found = tree.compare(listing, {"acquire iso9660": view}, {})[1]
        assert [(d.path, d.what) for d in found] == [(old.path, change)]


def test_a_multisession_disc_whose_later_session_replaced_a_file_validates_healthy(tmp_path):
    """Readers of an image file read the session at LBA 16 (the first); the analysis holds every
    session's tree. A file that session 2 replaced is another version, not a disagreement: a reader
    is checked against the trees of the one session it matched, and a mismatch there is still named."""
    import multisession as ms
    from acquire.validate.agree import check_readers
    for builder in ("cd_r_three_sessions", "cd_r_two_sessions"):
        disc = getattr(ms, builder)(tmp_path / builder)
        analysis = analyze_image(disc.image, None, session_starts=disc.starts)
        assert any(c.change == "replaced" and c.path == "/replaced.bin" for c in analysis.session_changes)
        check = check_readers(disc.image, analysis)
        assert check.ok, (builder, check.details)
    ran = [r for r in READERS if check.figures[r]["outcome"] == "pass"]
    assert ran == list(READERS) and all("#" in check.figures[r]["compared_with"] for r in READERS)   # session 1's tree
    # the first session's /keep.txt entry made to claim another size: that reader's disagreement is named
    views = tree.views(analysis)
    first = check.figures["isoinfo"]["compared_with"]
    seen = views[first]["/keep.txt"]
    views[first]["/keep.txt"] = tree.Seen(seen.path, seen.is_dir, seen.size + 1, seen.lba, seen.mtime)
    listing = tree.Listing("probe", "", "", {p: s for p, s in tree.views(analysis)[first].items()})
    view, differences = tree.compare(listing, views, {}, sessions=tree.view_sessions(analysis))
    assert view == first and [(d.path, d.what) for d in differences] == [("/keep.txt", "size")]


def test_a_cd_extra_data_session_after_audio_is_read_by_isoinfo_at_its_lba_and_the_others_say_why_not(tmp_path):
    """A CD-Extra: audio in session 1, the file system in session 2 at LBA 11,700, made by xorriso
    with -C 0,11700 (absolute extents, as on the disc). Previously every reader looked at LBA 16 of
    the image, found zeros and failed. isoinfo -T reads the session; xorriso, TSK and 7-Zip cannot be
    pointed there and are skipped with why."""
    start = 300 + 11_400
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "track.txt").write_bytes(b"liner notes\n" * 3000)
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-C", f"0,{start}", "-o", str(tmp_path / "d.iso"),
                    str(tree)], check=True, capture_output=True)
    (tmp_path / "a.raw").write_bytes(bytes(2352) * 300)
    (tmp_path / "extra.toml").write_text(
        '[drive]\nserial = "SIM-X"\n[disc]\nprofile = "cd-rom"\n'
        '[[track]]\nnumber = 1\nsession = 1\nstart = 0\nmode = "audio"\nimage = "a.raw"\n'
        f'[[track]]\nnumber = 2\nsession = 2\nstart = {start}\nimage = "d.iso"\n')
    run_acquire("image", f"sim:{tmp_path / 'extra.toml'}", tmp_path / "out.iso", "--no-validate", check_code=0)
    code, out = validate(tmp_path / "out.iso.custody.sqlite", "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers
    iso = readers["figures"]["isoinfo"]
    assert iso["outcome"] == "pass" and f"-T {start}" in iso["command"] and iso["entries"] >= 1, iso
    for name in ("xorriso", "sleuthkit", "7z"):
        fig = readers["figures"][name]
        assert fig["outcome"] == "skipped" and f"LBA {start}" in fig["why"], (name, fig)
