"""HFS and HFS+ against independent readers: hfsutils (hformat/hcopy write the classic volume; hls
and hcopy read it back) and The Sleuth Kit (fls, istat, icat) on xorriso's ISO/HFS+ hybrid; then the
same volumes with sectors the map does not mark read."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from acquire.fs.analyze import analyze_image
from acquire.rescue.sectormap import SectorMap, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_fs_images  # noqa: E402
import make_mac_images as mac  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("hformat") and shutil.which("fls") and shutil.which("xorriso")),
                                reason="needs hfsutils, sleuthkit and xorriso")
SECTOR = 2048


@pytest.fixture(scope="module")
def hfs(tmp_path_factory):
    out = tmp_path_factory.mktemp("hfs")
    content = mac.hfs_image(out / "hformat.hfs", out / "work")
    return out / "hformat.hfs", out / "work", content


@pytest.fixture(scope="module")
def hfsplus(tmp_path_factory):
    out = tmp_path_factory.mktemp("hfsplus")
    tree = make_fs_images.make_tree(out / "tree")
    return mac.hfsplus_hybrid(tree / "docs", out / "hfsplus.iso"), tree / "docs"


def _volume(analysis, kind):
    fs = next(f for f in analysis.filesystems if f.kind == kind)
    return fs, {f.path: f for f in analysis.files_of(fs.id)}


def _fork_bytes(image: Path, entry) -> bytes:
    data = image.read_bytes()
    runs = entry.metadata.get("byte_runs")
    if runs is None:
        runs = [(lba * SECTOR, n * SECTOR) for lba, n in entry.extents]
    return b"".join(data[o:o + n] for o, n in runs)[:entry.size]


def _map(image: Path, bad: list[tuple[int, int]]) -> SectorMap:
    smap = SectorMap(image.stat().st_size // SECTOR, State.FINISHED)
    for lba, count in bad:
        smap.set(lba, count, State.BAD)
    return smap


def test_hfs_listing_and_bytes_equal_hfsutils(hfs):
    image, work, content = hfs
    fs, files = _volume(analyze_image(image, None), "hfs")
    assert fs.label == "ACQ HFS" and not fs.problems
    listed = mac.hls_listing(image, work)
    ours = {p: f for p, f in files.items() if p != "/" and not p.endswith("/..namedfork/rsrc")}
    assert set(ours) == set(listed)
    for path, (file_type, creator, rsrc, size) in listed.items():
        f = ours[path]
        if file_type == "dir":
            assert f.is_dir
            continue
        assert (f.metadata["type"], f.metadata["creator"], f.size) == (file_type, creator, size)
        assert f.metadata.get("resource_fork_size", 0) == rsrc
        assert _fork_bytes(image, f) == mac.hcopy_fork(image, path, work), path
    app = files["/Docs/App/..namedfork/rsrc"]
    assert _fork_bytes(image, app) == content["/Docs/App/..namedfork/rsrc"] == mac.hcopy_fork(image, "/Docs/App", work, resource=True)
    # MacBinary's dates, kept as HFS keeps them: local time, no zone; 3e9 s after 1904 is 1999-01-24 05:20
    assert files["/Docs/App"].metadata["created_local"] == "1999-01-24T05:20:00"
    assert files["/Docs/hidden"].metadata["hidden"] and not files["/Docs/a.bin"].metadata["hidden"]
    # the fragmented file: 3 extents in its catalog record, the rest in the extents overflow file
    fragmented = files["/Many/fragmented"]
    assert len(fragmented.metadata["byte_runs"]) > 3
    assert _fork_bytes(image, fragmented) == content["/Many/fragmented"]
    assert all(f.verdict == "intact" for f in files.values())


def test_hfs_through_the_alternate_mdb_and_with_a_lost_catalog_node(hfs):
    image, _work, content = hfs
    fs, intact = _volume(analyze_image(image, None), "hfs")
    # the MDB (bytes 1024-1535) unreadable: the copy 1024 bytes before the volume's end is read
    analysis = analyze_image(image, _map(image, [(0, 1)]))
    fs, files = _volume(analysis, "hfs")
    assert fs.details["read_via"] == "alternate master directory block"
    assert set(files) == set(intact)
    assert files["/Docs/a.bin"].verdict == "recovered via alternate master directory block"
    assert any(u.what == "master directory block" for u in analysis.unreadable)
    # a file's sector lost: that file is damaged, the others are not
    a = intact["/Docs/a.bin"]
    analysis = analyze_image(image, _map(image, [(a.extents[0][0] + 2, 1)]))
    _, files = _volume(analysis, "hfs")
    assert files["/Docs/a.bin"].verdict == "damaged" and files["/Docs/a.bin"].unreadable_sectors == 1
    assert files["/Read Me"].verdict == "intact"
    # the catalog leaf holding /Docs/a.bin lost: the records in that node are gone, the rest is listed
    node_lba = a.entry_lba
    analysis = analyze_image(image, _map(image, [(node_lba, 1)]))
    fs, files = _volume(analysis, "hfs")
    lost = [u for u in analysis.unreadable if u.what == "catalog node"]
    assert lost and lost[0].lba == node_lba
    assert "/Docs/a.bin" not in files and files
    assert all(f.entry_lba != node_lba for f in files.values())
    assert any("catalog B-tree node" in p for p in fs.problems)


def test_hfsplus_listing_extents_and_bytes_equal_the_sleuth_kit(hfsplus):
    image, tree = hfsplus
    analysis = analyze_image(image, None)
    fs, files = _volume(analysis, "hfsplus")
    # the map entry number (1-based; the map itself is entry 1), mmls's slot 002
    assert fs.label == "ACQ_HFSPLUS" and fs.details["apm_partition"] == 3 and not fs.problems
    offset_512 = fs.details["offset_bytes"] // 512
    listed = mac.tsk_listing(image, offset_512)
    assert set(listed) == set(files) - {"/"}
    for path, inode in listed.items():
        f = files[path]
        assert f.metadata["cnid"] == inode
        if f.is_dir:
            continue
        blocks = mac.tsk_blocks(image, offset_512, inode)
        created = mac.tsk_times(image, offset_512, inode)
        assert (f.metadata["created"], f.metadata["modified"], f.metadata["accessed"]) == created
        base = fs.details["offset_bytes"] // SECTOR          # 2048-byte allocation blocks, sector aligned
        ours = [lba - base + i for lba, n in f.extents for i in range(n)]
        assert ours == blocks, path
        icat = subprocess.run(["icat", "-o", str(offset_512), str(image), str(inode)], capture_output=True,
                              check=True).stdout
        assert _fork_bytes(image, f) == icat == (tree / path.lstrip("/")).read_bytes()
        assert f.mode == "-rw-r--r--" and f.mtime_utc.endswith("Z") and f.metadata["created"].endswith("Z")


def test_hfsplus_through_the_alternate_volume_header(hfsplus):
    image, _ = hfsplus
    fs, intact = _volume(analyze_image(image, None), "hfsplus")
    header_lba = (fs.details["offset_bytes"] + 1024) // SECTOR
    analysis = analyze_image(image, _map(image, [(header_lba, 1)]))
    fs, files = _volume(analysis, "hfsplus")
    assert fs.details["read_via"] == "alternate volume header"
    assert set(files) == set(intact)
    assert {f.verdict for f in files.values()} == {"recovered via alternate volume header"}
    assert any(u.what == "volume header" and u.lba == header_lba for u in analysis.unreadable)


def _file_record(cnid: int, file_type: bytes, creator: bytes, special: int, size: int, start: int) -> bytes:
    """An HFSPlusCatalogFile, 248 bytes, laid out per TN1150 (the hard-link fields from its "Hard
    Links" section): no Debian tool writes HFS+ hard links."""
    import struct
    rec = bytearray(248)
    struct.pack_into(">hHII", rec, 0, 2, 0x0002, 0, cnid)              # recordType 2 (file), flags, reserved, fileID
    struct.pack_into(">IIIII", rec, 12, *([3_600_000_000] * 5))          # create/contentMod/attributeMod/access/backup
    struct.pack_into(">IIBBHI", rec, 32, 501, 20, 0, 0, 0o100444, special)   # BSDInfo; special = iNodeNum for a link
    rec[48:52], rec[52:56] = file_type, creator                          # FileInfo fdType, fdCreator
    struct.pack_into(">QII", rec, 88, size, 0, 1 if size else 0)         # dataFork: logicalSize, clump, totalBlocks
    struct.pack_into(">II", rec, 104, start, 1 if size else 0)           # its first extent
    return bytes(rec)


def test_an_hfsplus_hard_link_lists_its_inode_files_extents(tmp_path):
    from acquire.fs import hfsplus_records as rec
    from acquire.fs.hfs_btree import HfsVolume
    from acquire.fs.hfs_tree import Node, Overflow, list_nodes
    from acquire.fs.reader import SectorReader

    image = tmp_path / "v.img"
    image.write_bytes(bytes(64 * SECTOR))
    volume = HfsVolume(0, 4096, 32)
    inode = rec.catalog_entry(_file_record(30, b"\0\0\0\0", b"\0\0\0\0", 2, 5000, 7))
    link = rec.catalog_entry(_file_record(31, b"hlnk", b"hfs+", 30, 0, 0))
    assert link.is_hard_link() and not inode.is_hard_link() and link.special == 30
    # 3.6e9 s after 1904 = unix 1517155200 (3.6e9 - 2082844800); `date -u -d @1517155200`: 2018-01-28 16:00:00
    assert inode.mode() == "-r--r--r--" and inode.created == "2018-01-28T16:00:00Z"
    nodes = {2: Node(2, 1, "root", True, None),
             18: Node(18, 2, rec.PRIVATE_DATA, True, None),
             30: Node(30, 18, "iNode30", False, None, data=(5000, 2, ((7, 2),))),
             31: Node(31, 2, "link", False, None, data=(0, 0, ()), hard_link_inode=30)}
    with SectorReader(image, None) as reader:
        listing = list_nodes(reader, 1, volume, nodes, {}, Overflow(), 2)
    by_path = {f.path: f for f in listing.files}
    assert by_path["/link"].extents == by_path[f"/{rec.PRIVATE_DATA}/iNode30"].extents == ((14, 3),)
    assert by_path["/link"].size == 5000 and by_path["/link"].metadata["hard_link_to"] == "iNode30"


def test_hfs_metadata_reaches_the_record_and_the_reports(hfs, tmp_path):
    from acquire.record import Record
    from acquire.record.fs_tables import load_analysis, save_analysis
    from acquire.report import build_report, render

    image, _work, content = hfs
    analysis = analyze_image(image, None)
    path = tmp_path / "r.sqlite"
    record = Record.create(path, tool_version="test")
    try:
        save_analysis(record, analysis)
        assert load_analysis(record) == analysis              # metadata, verdict and read_via round-trip
        record.seal(None)
        assert record.verify() == []
    finally:
        record.close()
    report = build_report(path)
    app = next(f for f in report["filesystem"]["files"] if f["path"] == "/Docs/App")
    assert app["verdict"] == "intact" and app["metadata"]["type"] == "APPL"
    xml = render(report, "dfxml")
    assert "<crtime>1999-01-24T05:20:00</crtime>" in xml and 'acquire:verdict="intact"' in xml
    # the fork's exact bytes (512-byte blocks after a 2048-byte offset), not whole sectors
    runs = app["metadata"]["byte_runs"]
    assert f'img_offset="{runs[0][0]}" len="{runs[0][1]}"' in xml
    assert "type APPL/ACQ1" in render(report, "html")
    if shutil.which("xmllint"):
        xsd = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dfxml" / "dfxml.xsd"
        if xsd.is_file():
            (tmp_path / "r.xml").write_text(xml)
            done = subprocess.run(["xmllint", "--noout", "--schema", str(xsd), str(tmp_path / "r.xml")],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-2000:]


def test_a_genisoimage_hybrid_hfs_side_equals_hls_and_is_the_iso_trees_alternate(hfs, tmp_path):
    _image, work, _content = hfs
    tree = make_fs_images.make_tree(tmp_path / "tree")
    image = make_fs_images.genisoimage_hfs(tree, tmp_path / "hybrid.iso")
    analysis = analyze_image(image, None)
    fs, files = _volume(analysis, "hfs")
    iso = next(f for f in analysis.filesystems if f.kind == "iso9660")
    assert fs.alternate_of == iso.id and fs.details["offset_bytes"] == 0     # the MDB in the ISO's system area
    listed = mac.hls_listing(image, work)
    assert set(listed) == set(files) - {"/"}
    for path, (file_type, creator, _rsrc, size) in listed.items():
        if file_type != "dir":
            assert _fork_bytes(image, files[path]) == mac.hcopy_fork(image, path, work), path
            assert (files[path].metadata["type"], files[path].size) == (file_type, size)
    # the same bytes as the ISO tree's file of that name: one file, counted once when damaged
    a = files["/a.bin"]
    smap = _map(image, [(a.extents[0][0], 1)])
    damaged = analyze_image(image, smap).damaged_files()
    assert [f.path.lower() for f in damaged] == ["/a.bin"]


def test_an_hfs_partition_whose_headers_are_both_unreadable_is_still_named(hfsplus):
    image, _ = hfsplus
    fs, _files = _volume(analyze_image(image, None), "hfsplus")
    start = fs.details["offset_bytes"]
    header = (start + 1024) // SECTOR
    alternate = (start + fs.details["total_blocks"] * fs.details["block_size"] - 1024) // SECTOR
    analysis = analyze_image(image, _map(image, [(header, 1), (alternate, 1)]))
    lost = next(f for f in analysis.filesystems if f.details.get("apm_partition") == 3)
    assert lost.kind == "hfs" and "neither the volume header nor its alternate copy could be read" in lost.problems


def test_an_hfsplus_catalog_with_index_nodes_lists_what_fls_lists(tmp_path):
    tree = make_fs_images.make_tree(tmp_path / "tree")                 # /many: 90 files, a two-level catalog
    image = mac.hfsplus_hybrid(tree, tmp_path / "big.iso")
    analysis = analyze_image(image, None)
    fs, files = _volume(analysis, "hfsplus")
    listed = mac.tsk_listing(image, fs.details["offset_bytes"] // 512)
    assert len(listed) > 100 and set(listed) == set(files) - {"/"} and not fs.problems
    assert {p: files[p].metadata["cnid"] for p in listed} == listed


def test_a_lost_index_node_leaves_the_leaves_reachable_along_their_chain(tmp_path):
    tree = make_fs_images.make_tree(tmp_path / "tree")
    image = mac.hfsplus_hybrid(tree, tmp_path / "big.iso")
    fs, intact = _volume(analyze_image(image, None), "hfsplus")
    assert fs.details["catalog_depth"] == 2
    first = fs.details["catalog_sectors"][0][0]
    # xorriso's catalog: node 0 the header, node 1 the root index node (4096-byte nodes: 2 sectors each)
    root = first + fs.details["catalog_node_size"] // SECTOR
    analysis = analyze_image(image, _map(image, [(root, 2)]))
    fs, files = _volume(analysis, "hfsplus")
    assert set(files) == set(intact)
    assert {(root, 2, "catalog node")} <= {(u.lba, u.count, u.what) for u in analysis.unreadable}
    assert any("catalog B-tree node 1 is unreadable" in p for p in fs.problems)
