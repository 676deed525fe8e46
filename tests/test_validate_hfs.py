"""`acquire validate` on HFS and HFS+: hfsutils (hmount, hls -laR) and The Sleuth Kit (fls -f hfs,
istat) read the volume's tree, compared with acquire's own. The volumes are made by independent
tools (hformat/hmkdir/hcopy; genisoimage -hfs; xorriso -hfsplus) and imaged through the simulated
drive, so each record is a real acquisition's. A catalog record whose size the test changes (the
ISO 9660 side of the hybrid left as it was) makes the volume's reader disagree, and the path is named.
"""
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_acquire, write_profile
from test_validate import acquire, by_name, validate

from acquire.fs.analyze import analyze_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_fs_images  # noqa: E402
import make_mac_images as mac  # noqa: E402

NEEDED = ("hformat", "hmount", "hls", "fls", "istat", "xorriso", "genisoimage")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in NEEDED),
                                reason="needs hfsutils, sleuthkit, xorriso, genisoimage (.ci/run installs them)")


def _files(image: Path, kind: str) -> dict:
    analysis = analyze_image(image, None)
    fs = next(f for f in analysis.filesystems if f.kind == kind)
    return {f.path: f for f in analysis.files_of(fs.id)}


def _record_bodies(data: bytes, lba: int, name: bytes, key_end) -> list[int]:
    """Offsets of the bodies of the catalog records whose key holds `name` (its length-prefixed bytes),
    in the node at LBA `lba` (2048-byte sectors; up to 8 KiB); `key_end(name_at)`: where the body starts."""
    start, found = lba * 2048, []
    at = data.find(name, start, start + 8192)
    while at >= 0:
        found.append(key_end(at))
        at = data.find(name, at + 1, start + 8192)
    return found


def corrupt_hfs_size(image: Path, path: str, new_size: int) -> int:
    """Change a file's data fork length in its HFS catalog file record (Inside Macintosh: Files 2-88:
    CatKeyRec is 0 ckrKeyLen, 1 reserved, 2-5 ckrParID, 6.. ckrCName as a Pascal string; the record
    follows the key, at an even offset; cdrFilRec: 0 cdrType = 2, 26-29 filLgLen). Returns the old length."""
    entry = _files(image, "hfs")[path]
    name = path.rsplit("/", 1)[1].encode("mac_roman")
    data = bytearray(image.read_bytes())

    def body(name_at: int) -> int:
        key = name_at - 6
        end = key + 1 + data[key]
        return end + end % 2
    at = next(b for b in _record_bodies(data, entry.entry_lba, bytes([len(name)]) + name, body) if data[b] == 2)
    old, = struct.unpack_from(">I", data, at + 26)
    struct.pack_into(">I", data, at + 26, new_size)
    image.write_bytes(data)
    return old


def corrupt_hfsplus_size(image: Path, path: str, new_size: int) -> int:
    """Change a file's data fork logicalSize in its HFS+ catalog file record (TN1150: the key is
    keyLength u16, parentID u32, nodeName as length u16 + UTF-16BE; HFSPlusCatalogFile: 0-1
    recordType = 0x0002, 88-95 dataFork.logicalSize). Returns the old size."""
    entry = _files(image, "hfsplus")[path]
    name = path.rsplit("/", 1)[1]
    data = bytearray(image.read_bytes())

    def body(name_at: int) -> int:
        key = name_at - 6
        return key + 2 + struct.unpack_from(">H", data, key)[0]
    at = next(b for b in _record_bodies(data, entry.entry_lba, struct.pack(">H", len(name)) + name.encode("utf-16-be"),
                                        body) if data[b:b + 2] == b"\x00\x02")
    old, = struct.unpack_from(">Q", data, at + 88)
    struct.pack_into(">Q", data, at + 88, new_size)
    image.write_bytes(data)
    return old


@pytest.fixture(scope="module")
def hfs_volume(tmp_path_factory):
    """hformat + hmkdir + hcopy: folders, a resource fork, an invisible file, a file fragmented into the
    extents overflow file, 512-byte allocation blocks (not on 2048-byte sectors)."""
    out = tmp_path_factory.mktemp("hfs")
    mac.hfs_image(out / "hformat.hfs", out / "work")
    return out / "hformat.hfs"


def _hybrid_tree(tmp_path: Path) -> Path:
    tree = make_fs_images.make_tree(tmp_path / "tree")
    return tree


def test_every_reader_agrees_on_a_bare_hfs_volume_resource_forks_included(tmp_path, hfs_volume):
    image = tmp_path / "src.hfs"
    shutil.copyfile(hfs_volume, image)
    code, out = validate(acquire(tmp_path, image, "disc.hfs"), "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    fig = readers["figures"]["hfsutils"]
    (tmp_path / "work").mkdir()
    listed = mac.hls_listing(image, tmp_path / "work")
    forks = sum(1 for t in listed.values() if t[2])         # each resource fork holding bytes is an entry too
    assert fig["outcome"] == "pass" and fig["compared_with"] == "acquire hfs", fig
    assert fig["entries"] == len(listed) + forks and forks == 1 and fig["disagreement_count"] == 0
    assert "hmount" in fig["command"] and "hls -laR" in fig["command"]
    assert "no tree to compare" not in "\n".join(readers["details"])


def test_every_reader_agrees_on_an_iso_hfsplus_hybrid(tmp_path):
    iso = mac.hfsplus_hybrid(_hybrid_tree(tmp_path) / "docs", tmp_path / "src.iso")
    code, out = validate(acquire(tmp_path, iso), "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    fig = readers["figures"]["sleuthkit (hfs+)"]
    offset = next(f for f in analyze_image(iso, None).filesystems if f.kind == "hfsplus").details["offset_bytes"]
    assert fig["outcome"] == "pass" and fig["compared_with"] == "acquire hfsplus", fig
    assert f"-f hfs -o {offset // 512} " in fig["command"]
    assert fig["entries"] == len(mac.tsk_listing(iso, offset // 512)) and fig["entries"] >= 3
    for name in ("xorriso", "sleuthkit", "7z", "isoinfo"):
        assert readers["figures"][name]["outcome"] == "pass", name


def test_a_changed_hfs_catalog_size_on_a_hybrid_makes_hfsutils_disagree_and_names_the_path(tmp_path):
    iso = make_fs_images.genisoimage_hfs(_hybrid_tree(tmp_path), tmp_path / "src.iso")
    path = next(p for p, f in _files(iso, "hfs").items() if not f.is_dir and f.size > 100 and "Desktop" not in p)
    old = corrupt_hfs_size(iso, path, 77)
    code, out = validate(acquire(tmp_path, iso), "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 1 and readers["outcome"] == "fail" and path in readers["summary"], readers
    fig = readers["figures"]["hfsutils"]
    # hfsutils read the changed record, as acquire's HFS tree does; the ISO 9660 tree keeps the old length
    assert fig["disagreements"] == [f"{path}: size: hfsutils: 77; acquire hfs: 77; acquire iso9660: {old}"], fig
    assert all(readers["figures"][r]["outcome"] == "pass" for r in ("xorriso", "7z", "isoinfo"))


def test_a_changed_hfsplus_catalog_size_makes_the_sleuth_kit_disagree_and_names_the_path(tmp_path):
    iso = mac.hfsplus_hybrid(_hybrid_tree(tmp_path) / "docs", tmp_path / "src.iso")
    path = next(p for p, f in _files(iso, "hfsplus").items() if not f.is_dir and f.size > 100)
    old = corrupt_hfsplus_size(iso, path, 99)
    code, out = validate(acquire(tmp_path, iso), "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 1 and readers["outcome"] == "fail" and path in readers["summary"], readers
    lines = readers["figures"]["sleuthkit (hfs+)"]["disagreements"]
    assert f"{path}: size: sleuthkit (hfs+): 99; acquire hfsplus: 99; acquire iso9660: {old}" in lines, lines


def test_a_file_in_unreadable_sectors_is_expected_to_differ_not_a_failure(tmp_path, hfs_volume):
    image = tmp_path / "src.hfs"
    shutil.copyfile(hfs_volume, image)
    hit = _files(image, "hfs")["/filler"]           # far from LBA 16, where a reader looks for ISO 9660
    lba = hit.extents[0][0] + 2
    profile = write_profile(tmp_path / "damaged.toml", image.name, damage=[{"lbas": str(lba), "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "disc.hfs", "--no-validate", check_code=3)
    code, out = validate(tmp_path / "disc.hfs.custody.sqlite", "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    assert "/filler" in readers["figures"]["expected_to_differ"], readers["figures"]
    assert "unreadable" in readers["figures"]["expected_to_differ"]["/filler"]


def test_without_hfsutils_the_hfs_reader_is_skipped_with_its_package(tmp_path, hfs_volume):
    image = tmp_path / "src.hfs"
    shutil.copyfile(hfs_volume, image)
    record = acquire(tmp_path, image, "disc.hfs")
    bin_dir = tmp_path / "bin"                       # The Sleuth Kit and the rest, but no hfsutils
    bin_dir.mkdir()
    code, out = validate(record, "--no-boot", "--no-mount", env={"PATH": str(bin_dir)})
    readers = by_name(out)["readers"]
    fig = readers["figures"]["hfsutils"]
    assert code == 0 and readers["outcome"] == "skipped" and "hfsutils (hfsutils)" in readers["summary"]
    assert fig["outcome"] == "skipped" and "apt-get install hfsutils" in fig["why"]


def test_a_reader_failing_on_an_unreadable_catalog_node_is_expected_not_a_failure(tmp_path, hfs_volume):
    image = tmp_path / "src.hfs"
    shutil.copyfile(hfs_volume, image)
    node = _files(image, "hfs")["/Docs/a.bin"].entry_lba       # the catalog leaf (and, here, the header node)
    profile = write_profile(tmp_path / "damaged.toml", image.name, damage=[{"lbas": str(node), "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "disc.hfs", "--no-validate", check_code=3)
    code, out = validate(tmp_path / "disc.hfs.custody.sqlite", "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    fig = readers["figures"]["hfsutils"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    assert fig["outcome"] == "expected" and f"catalog node at LBA {node}" in fig["expected_to_differ"], fig
    assert "hmount" in fig["why"]                              # hfsutils' own words, kept


def test_an_hfs_volume_in_an_apple_partition_map_is_mounted_by_its_partition_number(tmp_path):
    """xorriso -hfsplus writes an Apple partition map with one Apple_HFS partition (entry 3, after the
    map and the ISO 9660 data); hformat formats that partition (hfsutils' partition 1) as classic HFS."""
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "big.bin").write_bytes(bytes(range(256)) * 4800)    # an HFS partition > 800 KiB
    iso = mac.hfsplus_hybrid(tmp_path / "tree", tmp_path / "src.iso")
    home = tmp_path / "home"
    home.mkdir()
    (home / "note.txt").write_bytes(b"in the partition\n" * 50)
    for cmd in (["hformat", "-l", "IN APM", str(iso), "1"], ["hmount", str(iso), "1"], ["hmkdir", ":Folder"],
                ["hcopy", "-r", str(home / "note.txt"), ":Folder:note.txt"], ["humount"]):
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "HOME": str(home)})
    fs = next(f for f in analyze_image(iso, None).filesystems if f.kind == "hfs")
    assert fs.details["apm_partition"] == 3 and fs.label == "IN APM"
    code, out = validate(acquire(tmp_path, iso), "--no-boot", "--no-mount")
    readers = by_name(out)["readers"]
    fig = readers["figures"]["hfsutils"]
    assert code == 0 and readers["outcome"] == "pass", readers["details"]
    assert fig["command"].startswith("hmount ") and fig["command"].split(";")[0].endswith(" 1"), fig
    assert fig["entries"] == 2 and fig["disagreement_count"] == 0, fig
