"""File-system analysis of ISO 9660 / Rock Ridge / Joliet / El Torito images, damaged as a drive
would leave them, checked against xorriso (and pycdlib) as independent readers."""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
import struct
from pathlib import Path

import pytest

from acquire.fs.analyze import analyze_image, extract_boot_images
from acquire.fs.eltorito import boot_image_name
from acquire.rescue.sectormap import SectorMap, State

ROOT = Path(__file__).resolve().parents[1]
SECTOR = 2048

_spec = importlib.util.spec_from_file_location("make_fs_images", ROOT / "fixtures" / "make_fs_images.py")
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)

pytestmark = pytest.mark.skipif(not shutil.which("xorriso") or not shutil.which("genisoimage"),
                                reason="xorriso and genisoimage are needed (apt-get install xorriso genisoimage)")

PLATFORMS = {"BIOS": "x86", "UEFI": "efi", "PPC": "ppc", "Mac": "mac"}
EMULATIONS = {"none": "none", "fd1.2": "1.2m", "fd1.4": "1.44m", "fd2.8": "2.88m", "hd": "hdd"}


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    out = tmp_path_factory.mktemp("fs")
    tree = mk.make_tree(out / "tree")
    return {
        "tree": tree,
        "xorriso": mk.xorriso_iso(tree, out / "xorriso.iso"),
        "hybrid": mk.xorriso_iso(tree, out / "hybrid.iso", hybrid=True),
        "bridge": mk.genisoimage_udf_bridge(tree, out / "bridge.iso"),
        "hfs": mk.genisoimage_hfs(tree, out / "hfs.iso"),
        "hfsplus": mk.xorriso_hfsplus(tree, out / "hfsplus.iso"),
    }


def damaged_copy(image: Path, bad: list[tuple[int, int]], tmp_path: Path) -> tuple[Path, SectorMap]:
    """A copy of `image` with `bad` sectors zero-filled, and the map that says they are unreadable."""
    copy = tmp_path / f"damaged-{image.name}"
    shutil.copyfile(image, copy)
    mk.zero_sectors(copy, bad)
    smap = SectorMap(copy.stat().st_size // SECTOR, State.FINISHED)
    for lba, count in bad:
        smap.set(lba, count, State.BAD)
    return copy, smap


def primary(analysis, kind="iso9660"):
    return next(fs for fs in analysis.filesystems if fs.kind == kind)


def data_files(analysis, fs_id) -> dict[str, list[tuple[int, int]]]:
    """path -> extents of the regular files (the boot catalog is a file xorriso does not report)."""
    return {f.path: [tuple(e) for e in f.extents] for f in analysis.files_of(fs_id)
            if not f.is_dir and f.path != "/boot.catalog"}


def oracle_extents(report: dict) -> dict[str, list[tuple[int, int]]]:
    return {path: [(lba, blocks) for lba, blocks, _ in parts if blocks] for path, parts in report.items()}


def bad_sectors_in(extents, bad: set[int]) -> int:
    return sum(1 for lba, count in extents for s in range(lba, lba + count) if s in bad)


# --- listing and extents ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["xorriso", "hybrid", "bridge"])
def test_every_file_and_its_extents_equal_xorriso_report_lba(images, name):
    analysis = analyze_image(images[name], None)
    ours = data_files(analysis, primary(analysis).id)
    assert ours == oracle_extents(mk.xorriso_report_lba(images[name]))
    assert len(ours) == len(mk.TREE) + mk.MANY + 1       # + boot/hdd.img


def test_joliet_lists_the_same_files_at_the_same_extents_as_an_alternate_view(images):
    analysis = analyze_image(images["xorriso"], None)
    iso, joliet = primary(analysis), primary(analysis, "joliet")
    assert joliet.alternate_of == iso.id
    assert data_files(analysis, joliet.id) == data_files(analysis, iso.id)


def test_rock_ridge_names_modes_and_times_are_read(images):
    analysis = analyze_image(images["xorriso"], None)
    files = {f.path: f for f in analysis.files_of(primary(analysis).id)}
    entry = files["/photos/Long Name With Spaces.jpg"]
    assert entry.size == mk.TREE["photos/Long Name With Spaces.jpg"]
    assert entry.mode == "-rw-r--r--" and entry.mtime_utc.endswith("Z")
    assert files["/docs/deep"].is_dir and files["/docs/deep"].mode.startswith("d")
    assert any(fs.kind == "rockridge" for fs in analysis.filesystems)


def test_descriptor_fields_are_reported(images):
    analysis = analyze_image(images["xorriso"], None)
    iso = primary(analysis)
    assert iso.label == "ACQ_XORRISO"
    assert iso.details["publisher_id"] == "ACQUIRE TESTS"                      # a-characters: upper case
    assert primary(analysis, "joliet").details["publisher_id"] == "acquire tests"
    assert iso.details["volume_space_size"] == images["xorriso"].stat().st_size // SECTOR
    assert "capacity_mismatch" not in iso.details


def test_a_multi_extent_file_lists_every_extent_as_xorriso_does(images, tmp_path):
    image = tmp_path / "multi.iso"
    shutil.copyfile(images["xorriso"], image)
    _split_into_two_extents(image, b"README.TXT;1")
    report = mk.xorriso_report_lba(image)
    assert len(report["/readme.txt"]) == 2                 # the oracle sees the two extents too
    analysis = analyze_image(image, None)
    ours = data_files(analysis, primary(analysis).id)
    assert ours["/readme.txt"] == oracle_extents(report)["/readme.txt"]
    assert next(f for f in analysis.files if f.path == "/readme.txt").size == mk.TREE["readme.txt"]


def _split_into_two_extents(image: Path, name: bytes) -> None:
    """Rewrite the root directory record of `name` as a multi-extent pair (ECMA-119 6.5.1): the
    first 2048 bytes with flag bit 7 set, then the rest."""
    with open(image, "r+b") as f:
        f.seek(16 * SECTOR)
        pvd = f.read(SECTOR)
        root_lba = struct.unpack_from("<I", pvd, 156 + 2)[0]
        f.seek(root_lba * SECTOR)
        sector = f.read(SECTOR)
        records, pos = [], 0
        while pos < SECTOR and sector[pos]:
            records.append(bytearray(sector[pos:pos + sector[pos]]))
            pos += sector[pos]
        out = []
        for rec in records:
            if rec[33:33 + rec[32]] == name:
                lba, size = struct.unpack_from("<I", rec, 2)[0], struct.unpack_from("<I", rec, 10)[0]
                first, second = bytearray(rec), bytearray(rec)
                _both_endian(first, 10, SECTOR)
                first[25] |= 0x80
                _both_endian(second, 2, lba + 1)
                _both_endian(second, 10, size - SECTOR)
                out += [first, second]
            else:
                out.append(rec)
        body = b"".join(out)
        assert len(body) <= SECTOR
        f.seek(root_lba * SECTOR)
        f.write(body + bytes(SECTOR - len(body)))


def _both_endian(buf: bytearray, offset: int, value: int) -> None:
    buf[offset:offset + 8] = value.to_bytes(4, "little") + value.to_bytes(4, "big")


# --- damage ------------------------------------------------------------------------------------------

def test_the_damaged_file_list_is_exact(images, tmp_path):
    report = oracle_extents(mk.xorriso_report_lba(images["xorriso"]))
    a_bin, photo, tiny = report["/docs/a.bin"], report["/photos/Long Name With Spaces.jpg"], report["/photos/tiny.bin"]
    bad = [(a_bin[0][0] + 1, 2), (photo[0][0] + photo[0][1] - 1, 1), (tiny[0][0], 1)]
    image, smap = damaged_copy(images["xorriso"], bad, tmp_path)
    analysis = analyze_image(image, smap)
    bad_set = {s for lba, n in bad for s in range(lba, lba + n)}
    expected = {p: bad_sectors_in(e, bad_set) for p, e in report.items() if bad_sectors_in(e, bad_set)}
    assert {f.path: f.unreadable_sectors for f in analysis.damaged_files()} == expected
    assert [f.path for f in analysis.damaged_files()][0] == "/docs/a.bin"     # most loss first
    assert data_files(analysis, primary(analysis).id) == report                # data damage hides no file


def test_an_unreadable_directory_sector_is_reported_and_only_its_entries_are_missing(images, tmp_path):
    clean = analyze_image(images["xorriso"], None)
    many = next(f for f in clean.files_of(primary(clean).id) if f.path == "/many")
    assert many.extents[0][1] >= 3
    lost_lba = many.extents[0][0] + 1
    image, smap = damaged_copy(images["xorriso"], [(lost_lba, 1)], tmp_path)
    analysis = analyze_image(image, smap)
    iso = primary(analysis)
    assert ("/many", lost_lba, "directory") in {(u.path, u.lba, u.what) for u in analysis.unreadable
                                                if u.filesystem_id == iso.id}
    assert any(str(lost_lba) in p for p in iso.problems)
    report = oracle_extents(mk.xorriso_report_lba(images["xorriso"]))
    ours = data_files(analysis, iso.id)
    missing = set(report) - set(ours)
    assert missing and all(p.startswith("/many/") for p in missing)            # no silent loss elsewhere
    assert all(ours[p] == report[p] for p in ours)
    assert len(missing) < mk.MANY


def test_a_subtree_below_an_unreadable_directory_is_found_through_the_path_table(images, tmp_path):
    clean = analyze_image(images["xorriso"], None)
    docs = next(f for f in clean.files_of(primary(clean).id) if f.path == "/docs")
    image, smap = damaged_copy(images["xorriso"], [docs.extents[0]], tmp_path)
    analysis = analyze_image(image, smap)
    iso = primary(analysis)
    assert ("/docs", docs.extents[0][0], "directory") in {(u.path, u.lba, u.what) for u in analysis.unreadable}
    report = oracle_extents(mk.xorriso_report_lba(images["xorriso"]))
    ours = data_files(analysis, iso.id)
    assert {p.lower() for p in report} - {p.lower() for p in ours} == {"/docs/a.bin"}   # only /docs named it
    # the path table gives ISO 9660 names (no Rock Ridge: the records naming them are lost)
    found = {p.lower(): e for p, e in ours.items() if p.lower().startswith("/docs/deep")}
    assert "/docs/DEEP/b.bin" in ours
    assert found == {"/docs/deep/b.bin": report["/docs/deep/b.bin"],
                     "/docs/deep/deeper/c.bin": report["/docs/deep/deeper/c.bin"]}


def test_an_unreadable_primary_descriptor_leaves_the_joliet_tree_readable(images, tmp_path):
    image, smap = damaged_copy(images["xorriso"], [(16, 1)], tmp_path)
    analysis = analyze_image(image, smap)
    assert (16, "descriptor") in {(u.lba, u.what) for u in analysis.unreadable}
    joliet = primary(analysis, "joliet")
    assert data_files(analysis, joliet.id) == oracle_extents(mk.xorriso_report_lba(images["xorriso"]))


def test_an_unreadable_path_table_is_reported(images, tmp_path):
    with open(images["xorriso"], "rb") as f:
        f.seek(16 * SECTOR)
        pvd = f.read(SECTOR)
    l_table, m_table = struct.unpack_from("<I", pvd, 140)[0], struct.unpack_from(">I", pvd, 148)[0]
    image, smap = damaged_copy(images["xorriso"], [(l_table, 1), (m_table, 1)], tmp_path)
    analysis = analyze_image(image, smap)
    iso = primary(analysis)
    assert {(l_table, "path table"), (m_table, "path table")} <= {
        (u.lba, u.what) for u in analysis.unreadable if u.filesystem_id == iso.id}
    assert data_files(analysis, iso.id) == oracle_extents(mk.xorriso_report_lba(images["xorriso"]))


# --- El Torito -------------------------------------------------------------------------------------

def test_el_torito_entries_equal_xorriso_report_el_torito(images):
    analysis = analyze_image(images["xorriso"], None)
    expected = [
        {"n": e["n"], "platform": PLATFORMS[e["platform"]], "bootable": e["bootable"],
         "emulation": EMULATIONS[e["emulation"]], "load_segment": e["load_segment"],
         "sector_count": e["sector_count"], "lba": e["lba"]}
        for e in mk.xorriso_el_torito(images["xorriso"])
    ]
    ours = [{"n": b.entry_no, "platform": b.platform, "bootable": b.bootable, "emulation": b.emulation,
             "load_segment": b.load_segment, "sector_count": b.sector_count, "lba": b.lba}
            for b in analysis.boot_images]
    assert ours == expected and len(ours) == 4


def test_boot_images_are_hashed_and_extracted_byte_for_byte(images, tmp_path):
    analysis = analyze_image(images["xorriso"], None)
    tree = images["tree"]
    for b in analysis.boot_images:
        source = (tree / b.path.lstrip("/")).read_bytes()
        assert (b.size_bytes, b.sha256) == (len(source), hashlib.sha256(source).hexdigest())
    written = extract_boot_images(images["xorriso"], analysis.boot_images, tmp_path / "boot")
    lbas = [b.lba for b in analysis.boot_images]
    assert [w.path.name for w in written] == [
        f"boot-01-x86-noemul-lba{lbas[0]}.img", f"boot-02-x86-floppy1.44m-lba{lbas[1]}.img",
        f"boot-03-x86-hdd-lba{lbas[2]}.img", f"boot-04-efi-noemul-lba{lbas[3]}.img"]
    assert all(w.matches_record for w in written)
    assert written[3].path.read_bytes() == (tree / "boot" / "efi.img").read_bytes()


def test_a_boot_image_copy_is_named_by_entry_platform_emulation_and_lba():
    assert boot_image_name(1, "x86", "none", 1234) == "boot-01-x86-noemul-lba1234.img"
    assert boot_image_name(12, "efi", "1.44m", 7) == "boot-12-efi-floppy1.44m-lba7.img"
    assert boot_image_name(3, "a/b c", "9", 0) == "boot-03-a_b_c-emul9-lba0.img"   # never a path from a record


def test_an_unreadable_sector_in_a_boot_image_is_counted(images, tmp_path):
    clean = analyze_image(images["xorriso"], None)
    efi = clean.boot_images[3]
    image, smap = damaged_copy(images["xorriso"], [(efi.lba + 5, 2)], tmp_path)
    damaged = analyze_image(image, smap).boot_images[3]
    assert damaged.unreadable_sectors == 2 and damaged.sha256 != efi.sha256


# --- system area and hybrids --------------------------------------------------------------------------

def test_a_hybrid_gpt_with_an_appended_efi_partition_is_reported_beyond_the_volume(images):
    analysis = analyze_image(images["hybrid"], None)
    kinds = {fs.kind: fs for fs in analysis.filesystems}
    assert {"mbr", "gpt", "iso9660", "joliet", "eltorito"} <= set(kinds)
    assert kinds["mbr"].details["protective"]
    efi = [p for p in kinds["gpt"].details["partitions"] if p["type"] == "EFI System"]
    assert len(efi) == 1 and efi[0]["beyond_iso_volume"]
    assert "capacity_mismatch" in kinds["iso9660"].details


def test_hfs_and_hfsplus_hybrids_are_detected(images):
    hfs = analyze_image(images["hfs"], None)
    assert [(fs.kind, fs.label) for fs in hfs.filesystems if fs.kind == "hfs"] == [("hfs", "ACQ_HFS")]
    plus = analyze_image(images["hfsplus"], None)
    kinds = [fs.kind for fs in plus.filesystems]
    assert "apm" in kinds and "hfsplus" in kinds and "iso9660" in kinds


# --- UDF bridge --------------------------------------------------------------------------------------

def test_the_udf_side_of_a_bridge_disc_gives_the_same_extents_as_its_iso_side(images):
    analysis = analyze_image(images["bridge"], None)
    udf = primary(analysis, "udf")
    assert udf.alternate_of == primary(analysis).id and not udf.problems
    assert data_files(analysis, udf.id) == oracle_extents(mk.xorriso_report_lba(images["bridge"]))


def test_pycdlib_agrees_on_the_undamaged_tree(images):
    pycdlib = pytest.importorskip("pycdlib")
    iso = pycdlib.PyCdlib()
    iso.open(str(images["xorriso"]))
    try:
        theirs = {}
        for dirpath, _, names in iso.walk(rr_path="/"):
            for name in names:
                path = f"{dirpath.rstrip('/')}/{name}"
                rec = iso.get_record(rr_path=path)
                theirs[path] = rec.get_data_length()
    finally:
        iso.close()
    analysis = analyze_image(images["xorriso"], None)
    ours = {f.path: f.size for f in analysis.files_of(primary(analysis).id) if not f.is_dir}
    assert ours == theirs
