"""HFS and HFS+ parsers on arbitrary bytes, and a real hformat volume with flipped bytes in its first
sectors and in its catalog: findings, never an exception, a hang or unbounded memory."""
from __future__ import annotations

import random
import shutil
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquire.fs import hfs, hfsplus_records
from acquire.fs.analyze import analyze_image
from acquire.fs.hfs_btree import header_record, node_descriptor, node_records
from acquire.record.fs_tables import Analysis
from acquire.rescue.sectormap import SectorMap, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_mac_images as mac  # noqa: E402

FUZZ = settings(max_examples=60, deadline=30000, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
SECTOR = 2048


@FUZZ
@given(st.binary(max_size=1024))
def test_any_bytes_decode_as_hfs_structures_or_none(raw):
    for head in (b"", b"H+\x00\x04", b"BD", b"\x00\x01", b"\x00\x02", b"\x01", b"\x02", b"\x00\x03"):
        data = head + raw
        hfsplus_records.volume_header(data)
        hfsplus_records.catalog_entry(data)
        hfsplus_records.thread(data)
        hfsplus_records.catalog_key(data)
        hfsplus_records.extents_key(data)
        hfs.master_directory_block(data)
        hfs._node(data, 1, "x", None)
        hfs._catalog_key(data)
        hfs._extents(data)
        hfs._extents_key(data)
        header_record(data)
        if len(data) >= 14:
            node_descriptor(data)
            node_records(data)


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    if not shutil.which("hformat"):
        pytest.skip("needs hfsutils")
    out = tmp_path_factory.mktemp("hfsfuzz")
    mac.hfs_image(out / "v.hfs", out / "work")
    fs = next(f for f in analyze_image(out / "v.hfs", None).filesystems if f.kind == "hfs")
    return (out / "v.hfs").read_bytes(), fs


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), where=st.sampled_from(("head", "catalog", "extents")),
       flips=st.integers(1, 64), bad=st.booleans())
def test_a_mutated_hfs_volume_gives_findings(volume, tmp_path, seed, where, flips, bad):
    data, fs = volume
    rng = random.Random(seed)
    image = bytearray(data)
    first = fs.details["first_block_sector"] * 512
    span = {"head": (0, 3 * SECTOR), "catalog": (first + 24 * 512, 24 * 512), "extents": (first, 24 * 512)}[where]
    for _ in range(flips):
        image[span[0] + rng.randrange(span[1])] ^= 1 << rng.randrange(8)
    path = tmp_path / "m.hfs"
    path.write_bytes(bytes(image))
    smap = None
    if bad:
        smap = SectorMap(len(image) // SECTOR, State.FINISHED)
        smap.set(rng.randrange(len(image) // SECTOR), 2, State.BAD)
    tracemalloc.start()
    analysis = analyze_image(path, smap)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(analysis, Analysis)
    assert peak < 64 << 20


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory):
    if not shutil.which("xorriso"):
        pytest.skip("needs xorriso")
    import make_fs_images
    out = tmp_path_factory.mktemp("hfsplusfuzz")
    tree = make_fs_images.make_tree(out / "tree")
    image = mac.hfsplus_hybrid(tree / "docs", out / "h.iso")
    fs = next(f for f in analyze_image(image, None).filesystems if f.kind == "hfsplus")
    return image.read_bytes(), fs


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 64))
def test_a_mutated_hfsplus_volume_gives_findings(hybrid, tmp_path, seed, flips):
    data, fs = hybrid
    rng = random.Random(seed)
    image = bytearray(data)
    start = fs.details["offset_bytes"]           # the volume header and the B-trees after it
    for _ in range(flips):
        image[start + rng.randrange(16 * SECTOR)] ^= 1 << rng.randrange(8)
    path = tmp_path / "m.iso"
    path.write_bytes(bytes(image))
    assert isinstance(analyze_image(path, None), Analysis)
