"""acquire extract: files copied out of a damaged UDF image and an HFS+ hybrid by their extents, equal
to the independent readers' bytes (udfclient, The Sleuth Kit's icat) for intact files, with the
unreadable sectors of damaged ones named; a crafted '../' name stays inside DIR."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from acquire.cli import cli
from acquire.errors import UsageError
from acquire.fs.analyze import analyze_image
from acquire.fs.extract import extract_files, safe_target
from acquire.record import Record
from acquire.record.fs_tables import FileEntry, save_analysis
from acquire.rescue.sectormap import SectorMap, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_fs_images  # noqa: E402
import make_mac_images as mac  # noqa: E402
import make_udf_images as mk  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("mkudffs") and shutil.which("udfclient") and shutil.which("icat")),
                                reason="needs udftools, udfclient and sleuthkit")
SECTOR = 2048


def _recorded(image: Path, bad: list[tuple[int, int]]) -> Path:
    """IMAGE.custody.sqlite holding the map (bad runs unread) and the analysis made against it, sealed."""
    sectors = image.stat().st_size // SECTOR
    smap = SectorMap(sectors, State.FINISHED)
    for lba, count in bad:
        smap.set(lba, count, State.BAD)
    path = image.with_name(image.name + ".custody.sqlite")
    record = Record.create(path, tool_version="test")
    try:
        record.set_medium(capacity=sectors)
        record.save_map([(r.start, r.count, int(r.state)) for r in smap.runs(0, sectors)])
        record.commit()
        save_analysis(record, analyze_image(image, smap))
        record.seal(None)
    finally:
        record.close()
    return path


def test_extract_from_a_damaged_udf_volume(tmp_path):
    image = mk.mkudffs(tmp_path / "cdrw.udf", "cdrw", "2.01", "--spartable")
    content = mk.put_tree(image, tmp_path / "work")
    files = {f.path: f for f in analyze_image(image, None).files}
    lost = files["/d/e/deep.bin"].extents[0][0] + 3
    record = _recorded(image, [(lost, 2)])
    before = image.read_bytes()
    result = CliRunner().invoke(cli, ["extract", str(record), "/", "-o", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert image.read_bytes() == before                                 # read-only on the image
    theirs = mk.udfclient_get_all(image, list(content), tmp_path)
    for path, body in content.items():
        copy = (tmp_path / "out" / path.lstrip("/")).read_bytes()
        if path == "/d/e/deep.bin":
            assert f"unreadable sectors (zeros in the copy): {lost}..{lost + 1}" in result.output
            assert copy[:3 * SECTOR] == body[:3 * SECTOR] and copy[3 * SECTOR:5 * SECTOR] == bytes(2 * SECTOR)
            assert f"damaged   udf      {path}" in result.output
        else:                                                          # incl. /d/small.bin, embedded in its entry
            assert copy == theirs[path] == body, path
            assert f"{hashlib.sha256(body).hexdigest()}  intact" in result.output


def test_extract_from_an_hfsplus_hybrid_equals_icat(tmp_path):
    tree = make_fs_images.make_tree(tmp_path / "tree")
    image = mac.hfsplus_hybrid(tree / "docs", tmp_path / "hfsplus.iso")
    record = _recorded(image, [])
    done = extract_files(record, image, ["/deep"], tmp_path / "out", kind="hfsplus")
    fs = next(f for f in analyze_image(image, None).filesystems if f.kind == "hfsplus")
    inodes = mac.tsk_listing(image, fs.details["offset_bytes"] // 512)
    assert {e.path for e in done} == {"/deep/b.bin", "/deep/deeper/c.bin"} and {e.filesystem for e in done} == {"hfsplus"}
    for e in done:
        icat = subprocess.run(["icat", "-o", str(fs.details["offset_bytes"] // 512), str(image), str(inodes[e.path])],
                              capture_output=True, check=True).stdout
        assert e.target.read_bytes() == icat and e.verdict == "intact"


def test_a_crafted_name_cannot_leave_the_directory(tmp_path):
    root = (tmp_path / "out").resolve()
    root.mkdir()
    for evil in ("/../escape", "/a/../../escape", "/a/\0b"):
        with pytest.raises(UsageError):
            safe_target(root, evil)
    assert safe_target(root, "/a/b..c/./d") == root / "a" / "b..c" / "d"
    # end to end: a record whose analysis names a file '../escape' refuses it and writes nothing outside
    image = tmp_path / "x.img"
    image.write_bytes(bytes(8 * SECTOR))
    record = _recorded(image, [])
    db = Record.open(record)
    try:
        from acquire.record.fs_tables import Analysis, Filesystem
        save_analysis(db, Analysis(8, [Filesystem(1, "iso9660", "X")],
                                   [FileEntry(1, "/../escape", 10, False, ((2, 1),))]))
        db.seal(None)
    finally:
        db.close()
    result = CliRunner().invoke(cli, ["extract", str(record), "/../escape", "-o", str(root)])
    assert result.exit_code == 2 and "would leave" in result.output
    assert not (tmp_path / "escape").exists()
