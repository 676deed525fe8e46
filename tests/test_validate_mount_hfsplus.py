"""The mount check on an ISO 9660 / HFS+ hybrid (xorriso -hfsplus): the QEMU guest's kernel mounts
the HFS+ volume at its offset in the image, and its names, sizes, mtimes and SHA-256s are compared
with acquire's own HFS+ tree (fs/hfsplus.py), each field also with the hybrid's ISO 9660 tree. A file
size changed in its catalog file record (found by parsing the catalog, tests/test_validate_hfs.py), the
ISO 9660 side left as it was, makes the trees disagree, the path named.

The guest (a Debian kernel, a busybox initramfs) is cached in ACQUIRE_GUEST_CACHE or
~/.cache/acquire/guest; the first run downloads it (~70 MB). Measured on 2 loaded cores: ~20-40 s a boot.
"""
import shutil
import sys
from pathlib import Path

import pytest

from test_validate_hfs import _hybrid_tree, corrupt_hfsplus_size

from acquire.fs.analyze import analyze_image
from acquire.validate import mount, qemu

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_mac_images as mac  # noqa: E402

pytestmark = pytest.mark.skipif(qemu.qemu_path() is None or shutil.which("xorriso") is None
                                or shutil.which("busybox") is None,
                                reason="needs qemu-system-x86, busybox-static and xorriso")


def _check(image: Path):
    check = mount.check_mount(image, analyze_image(image, None))
    if check.outcome == "skipped":
        pytest.skip(check.summary)
    return check


def test_the_kernels_hfsplus_mount_of_a_hybrid_matches_the_analysis_with_files_hashed(tmp_path):
    iso = mac.hfsplus_hybrid(_hybrid_tree(tmp_path) / "docs", tmp_path / "src.iso")
    check = _check(iso)
    fig = check.figures["hfsplus"]
    assert check.outcome == "pass", check.details
    assert fig["outcome"] == "pass" and fig["compared_with"] == "acquire hfsplus", fig
    analysis = analyze_image(iso, None)
    hfs = next(v for v in analysis.filesystems if v.kind == "hfsplus")
    files = [f for f in analysis.files_of(hfs.id) if not f.is_dir and "/..namedfork/" not in f.path]
    assert fig["files_hashed"] == len(files) > 0, (fig, [f.path for f in files])


def test_a_changed_hfsplus_catalog_size_fails_the_mount_compare_naming_the_path(tmp_path):
    iso = mac.hfsplus_hybrid(_hybrid_tree(tmp_path) / "docs", tmp_path / "src.iso")
    analysis = analyze_image(iso, None)
    hfs = next(v for v in analysis.filesystems if v.kind == "hfsplus")
    path = next(f.path for f in analysis.files_of(hfs.id) if not f.is_dir and f.size > 100)
    corrupt_hfsplus_size(iso, path, 99)
    check = _check(iso)
    fig = check.figures["hfsplus"]
    assert check.outcome == "fail" and fig["outcome"] == "fail", check.details
    # the kernel reads the changed record as acquire's HFS+ tree does; the ISO 9660 tree keeps the old size
    assert any(line.startswith(f"{path}: size: Linux hfsplus: 99; acquire hfsplus: 99; acquire iso9660: ")
               for line in fig["disagreements"]), fig
    assert check.figures["iso9660"]["outcome"] == "pass"


def test_a_decomposed_name_and_a_source_hard_link_pass_the_hfsplus_compare(tmp_path):
    """xorriso -as mkisofs -hfsplus writes a source hard link as two HFS+ file records sharing one
    extent (measured: both at the same LBA; no iNode file, so this is not an HFS+ hard link, which no
    installed tool makes); 'café' given decomposed (NFD), as HFS+ stores it, compares alike."""
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a.bin").write_bytes(bytes(range(256)) * 20)
    (tree / "b.bin").hardlink_to(tree / "a.bin")
    (tree / "cafe\u0301.txt").write_bytes(b"x")
    iso = mac.hfsplus_hybrid(tree, tmp_path / "src.iso")
    check = _check(iso)
    fig = check.figures["hfsplus"]
    assert check.outcome == "pass" and fig["files_hashed"] == 3, check.details
    assert fig["entries"] == 3 and fig["disagreement_count"] == 0, fig
