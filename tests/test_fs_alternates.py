"""Copies as evidence: a file the ISO 9660 tree lost is named as recovered through the Joliet tree
or the other path table, and two copies that both read but disagree are reported (xorriso images)."""
from __future__ import annotations

import importlib.util
import shutil
import struct
from pathlib import Path

import pytest

from acquire.fs.analyze import analyze_image
from acquire.rescue.sectormap import SectorMap, State

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_fs_images", ROOT / "fixtures" / "make_fs_images.py")
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)
pytestmark = pytest.mark.skipif(not shutil.which("xorriso"), reason="needs xorriso")
SECTOR = 2048


@pytest.fixture(scope="module")
def iso(tmp_path_factory):
    out = tmp_path_factory.mktemp("alt")
    return mk.xorriso_iso(mk.make_tree(out / "tree"), out / "x.iso")


def _fs(analysis, kind):
    fs = next(f for f in analysis.filesystems if f.kind == kind)
    return fs, {f.path: f for f in analysis.files_of(fs.id)}


def test_files_lost_from_the_iso_tree_are_named_recovered_through_joliet_and_the_m_path_table(iso):
    clean = analyze_image(iso, None)
    _, files = _fs(clean, "iso9660")
    docs = files["/docs"].extents[0]
    pvd = iso.read_bytes()[16 * SECTOR:17 * SECTOR]
    l_table = struct.unpack_from("<I", pvd, 140)[0]
    smap = SectorMap(iso.stat().st_size // SECTOR, State.FINISHED)
    smap.set(docs[0], docs[1], State.BAD)
    smap.set(l_table, 1, State.BAD)
    analysis = analyze_image(iso, smap)
    primary, files = _fs(analysis, "iso9660")
    deep = {p: f for p, f in files.items() if p.lower().startswith("/docs/deep")}
    assert deep and {f.read_via for f in deep.values()} == {"M path table"}
    assert {f.verdict for f in deep.values() if not f.is_dir} == {"recovered via M path table"}
    assert files["/readme.txt"].verdict == "intact"
    assert files["/docs"].verdict == "unknown"                      # what it held is lost in this tree
    _, joliet = _fs(analysis, "joliet")
    a = joliet["/docs/a.bin"]
    assert "/docs/a.bin" not in {p.lower() for p in files}
    assert a.verdict == "recovered via joliet tree (lost from the iso9660 tree)"
    assert joliet["/readme.txt"].read_via is None                    # the ISO tree still has that one


def test_copies_that_both_read_but_disagree_are_reported(iso, tmp_path):
    data = bytearray(iso.read_bytes())
    _, joliet = _fs(analyze_image(iso, None), "joliet")
    sector = joliet["/readme.txt"].entry_lba * SECTOR
    at = data.index("readme.txt".encode("utf-16-be"), sector) - 33       # the record starts 33 bytes before its name
    struct.pack_into("<I", data, at + 10, 5001)                          # data length, both-endian (ECMA-119 9.1.4)
    struct.pack_into(">I", data, at + 14, 5001)
    edited = tmp_path / "edited.iso"
    edited.write_bytes(bytes(data))
    fs, _ = _fs(analyze_image(edited, None), "joliet")
    assert any("/readme.txt (joliet)" in p and "5001 and 5000" in p for p in fs.problems)
