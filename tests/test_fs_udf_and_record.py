"""A pure-UDF image (no ISO 9660 side) read by our own UDF reader; findings saved in the record."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from acquire.fs.analyze import analyze_image
from acquire.record import Record
from acquire.record.fs_tables import load_analysis, save_analysis
from acquire.rescue.sectormap import SectorMap, State

from test_fs_iso import SECTOR, damaged_copy, mk, primary


@pytest.fixture(scope="session")
def pure(tmp_path_factory):
    if not (shutil.which("newfs_udf") and shutil.which("udfclient")):
        pytest.skip("newfs_udf and udfclient are needed (apt-get install udfclient)")
    out = tmp_path_factory.mktemp("udf")
    tree = mk.make_tree(out / "tree")
    return tree, mk.pure_udf(tree, out / "pure.udf")


def test_a_pure_udf_image_lists_every_file_with_extents_holding_its_bytes(pure):
    tree, image = pure
    analysis = analyze_image(image, None)
    assert [fs.kind for fs in analysis.filesystems] == ["udf"]
    udf = analysis.filesystems[0]
    assert udf.details["logical_volume_id"] == "ACQ_PUREUDF" and not udf.problems
    files = {f.path: f for f in analysis.files if not f.is_dir}
    assert {p: f.size for p, f in files.items()} == {f"/{rel}": size for rel, size in mk.UDF_TREE.items()}
    data = image.read_bytes()
    for path, f in files.items():
        source = (tree / path.lstrip("/")).read_bytes()
        if f.embedded:                       # stored inside its file entry: no extent (docs/reference/test-images.md)
            assert f.extents == () and f.size < SECTOR
            continue
        body = b"".join(data[lba * SECTOR:(lba + n) * SECTOR] for lba, n in f.extents)[:f.size]
        assert body == source, path
    assert files["/photos/tiny.bin"].embedded and not files["/docs/a.bin"].embedded


def test_seven_zip_lists_the_same_udf_files(pure):
    if not shutil.which("7z"):
        pytest.skip("7z is needed (apt-get install p7zip-full)")
    _, image = pure
    # 7-Zip warns about udfclient's images ("Headers Error", exit 2) but lists them whole
    done = subprocess.run(["7z", "l", "-slt", "-tudf", str(image)], capture_output=True, text=True)
    theirs = {}
    for block in done.stdout.split("\n\n"):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Path" in fields and "Folder" in fields and fields["Folder"] != "+":
            theirs["/" + fields["Path"]] = int(fields.get("Size") or 0)
    ours = {f.path: f.size for f in analyze_image(image, None).files if not f.is_dir}
    assert ours == theirs


def test_udf_damage_in_a_file_and_in_a_file_entry_is_reported(pure, tmp_path):
    _, image = pure
    clean = analyze_image(image, None)
    files = {f.path: f for f in clean.files}
    a_bin, deep = files["/docs/a.bin"], files["/docs/deep"]
    bad = [(a_bin.extents[0][0] + 3, 2), (deep.entry_lba, 1)]
    copy, smap = damaged_copy(image, bad, tmp_path)
    analysis = analyze_image(copy, smap)
    assert {f.path: f.unreadable_sectors for f in analysis.damaged_files()} == {"/docs/a.bin": 2}
    assert ("/docs/deep", deep.entry_lba, "file entry") in {(u.path, u.lba, u.what) for u in analysis.unreadable}
    listed = {f.path for f in analysis.files}
    assert "/docs/deep/b.bin" not in listed and "/docs/a.bin" in listed


def test_findings_round_trip_through_the_record_and_the_seal_covers_them(tmp_path):
    image = tmp_path / "x.iso"
    mk.xorriso_iso(mk.make_tree(tmp_path / "tree"), image)
    smap = SectorMap(image.stat().st_size // SECTOR, State.FINISHED)
    smap.set(40, 3, State.BAD)
    analysis = analyze_image(image, smap)
    record = Record.create(tmp_path / "r.sqlite", tool_version="test")
    try:
        assert load_analysis(record) is None
        save_analysis(record, analysis)
        save_analysis(record, analysis)                   # replaces, never appends
        assert load_analysis(record) == analysis
        record.seal(None)
        assert record.verify() == []
        record.db.conn.execute("UPDATE files SET unreadable_sectors = 0 WHERE unreadable_sectors > 0")
        assert any(f.table == "files" and f.severity == "tampered" for f in record.verify())
    finally:
        record.close()


def test_an_analysis_saved_twice_keeps_one_copy_and_loads_equal(tmp_path):
    record = Record.create(tmp_path / "r.sqlite", tool_version="test")
    try:
        assert load_analysis(record) is None
        image = tmp_path / "x.iso"
        mk.xorriso_iso(mk.make_tree(tmp_path / "tree"), image)
        analysis = analyze_image(image, None)
        save_analysis(record, analysis)
        assert load_analysis(record) == analysis
        assert primary(load_analysis(record)).label == "ACQ_XORRISO"
    finally:
        record.close()
