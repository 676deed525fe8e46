"""UDF of every partition kind mkudffs makes (physical, sparable, virtual; UDF 1.02 to 2.50), with
files udfclient wrote, against udfclient (`ls`, `get`) and `udfinfo`; then the copies UDF keeps
(anchors, reserve sequence, sparing tables, spare packets) read when the first one is lost."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from acquire.fs.analyze import analyze_image
from acquire.rescue.sectormap import SectorMap, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_udf_images as mk  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("mkudffs") and shutil.which("udfclient")),
                                reason="needs udftools and udfclient")
SECTOR = 2048


@pytest.fixture(scope="module")
def sparable(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparable")
    image = mk.mkudffs(out / "cdrw.udf", "cdrw", "2.01", "--spartable")
    return image, mk.put_tree(image, out / "work"), out


def _udf(image: Path, smap: SectorMap | None = None):
    analysis = analyze_image(image, smap)
    fs = next(f for f in analysis.filesystems if f.kind == "udf")
    return fs, {f.path: f for f in analysis.files_of(fs.id)}, analysis


def _map(image: Path, bad: list[tuple[int, int]]) -> SectorMap:
    smap = SectorMap(image.stat().st_size // SECTOR, State.FINISHED)
    for lba, count in bad:
        smap.set(lba, count, State.BAD)
    return smap


def _bytes(image: Path, entry) -> bytes:
    data = image.read_bytes()
    return b"".join(data[lba * SECTOR:(lba + n) * SECTOR] for lba, n in entry.extents)[:entry.size]


@pytest.mark.parametrize("media,revision,kinds", [("hd", "1.02", ["physical"]), ("dvdrw", "1.50", ["sparable"]),
                                                   ("hd", "2.01", ["physical"]), ("cdrw", "2.01", ["sparable"])])
def test_each_revision_and_map_kind_as_udfinfo_says(tmp_path, media, revision, kinds):
    image = mk.mkudffs(tmp_path / f"{media}.udf", media, revision)
    fs, files, _ = _udf(image)
    info = mk.udfinfo(image)
    assert fs.details["udf_revision"] == info["udfrev"] == revision
    assert [m["kind"] for m in fs.details["partition_maps"]] == kinds
    lvid = fs.details["integrity"]
    assert (lvid["state"], lvid["files"], lvid["directories"]) == (info["integrity"], int(info["numfiles"]),
                                                                  int(info["numdirs"]))
    assert fs.label == info["vid"] and "/" in files and not fs.problems
    assert set(fs.details["anchors"].values()) == {"anchor"}


def test_sparable_files_equal_udfclient(sparable):
    image, content, out = sparable
    fs, files, _ = _udf(image)
    maps = fs.details["partition_maps"]
    assert maps[0]["kind"] == "sparable" and maps[0]["sparing"]["remapped_packets"] == 0
    for folder in ("", "d", "d/e"):
        for name, (is_dir, size) in mk.udfclient_ls(image, folder).items():
            f = files["/" + "/".join(p for p in (folder, name) if p)]
            assert f.is_dir == is_dir and f.size == size
    theirs = mk.udfclient_get_all(image, list(content), out)
    for path, body in content.items():
        f = files[path]
        assert theirs[path] == body and (f.embedded or _bytes(image, f) == body), path
        assert f.metadata["modified"].endswith("+00:00") and f.verdict == "intact"


def test_a_remapped_packet_is_read_from_its_spare_like_udfclient_does(sparable, tmp_path):
    image, content, _ = sparable
    fs, files, _ = _udf(image)
    start = fs.details["partitions"][0]["start"]
    big = files["/big.bin"]
    lbn = big.extents[0][0] - start
    packet = lbn - lbn % 32
    remapped = tmp_path / "remapped.udf"
    shutil.copy(image, remapped)
    tables = fs.details["partition_maps"][0]["sparing_tables"]
    spare = 288                                      # the first spare packet (udfinfo: SSPACE from 288)
    mk.remap_packet(remapped, packet, start, spare, tables)
    assert mk.udfclient_get(remapped, "/big.bin", tmp_path) == content["/big.bin"]
    bad = [(start + packet, 32)]                     # the defective packet does not read
    fs, files, _ = _udf(remapped, _map(remapped, bad))
    assert fs.details["partition_maps"][0]["sparing"]["remapped_packets"] == 1
    assert files["/big.bin"].extents[0][0] == spare + lbn - packet
    assert _bytes(remapped, files["/big.bin"]) == content["/big.bin"]
    assert files["/big.bin"].verdict == "intact"
    # the first sparing table lost as well: its copy says the same
    fs, files, analysis = _udf(remapped, _map(remapped, bad + [(tables[0], 1)]))
    assert fs.details["partition_maps"][0]["sparing"]["used_copy"] == 2
    assert files["/big.bin"].verdict == "recovered via sparing table copy 2"
    assert any(u.what == "sparing table" and u.lba == tables[0] for u in analysis.unreadable)
    # the first table read but broken (a flipped byte in its tag): the good copy is used
    broken = tmp_path / "broken.udf"
    data = bytearray(remapped.read_bytes())
    data[tables[0] * SECTOR + 4] ^= 0xFF                               # the tag checksum (ECMA-167 3/7.2.3)
    broken.write_bytes(bytes(data))
    fs, files, _ = _udf(broken, _map(broken, bad))
    sparing = fs.details["partition_maps"][0]["sparing"]
    assert sparing["used_copy"] == 2 and sparing["tables"][0]["state"] == "not a sparing table"
    assert files["/big.bin"].extents[0][0] == spare + lbn - packet


def test_the_reserve_sequence_and_the_other_anchors_stand_in(sparable):
    image, content, _ = sparable
    fs, intact, _ = _udf(image)
    main = [lba for lba in range(96, 128)]           # udfinfo: MVDS at 96
    fs, files, analysis = _udf(image, _map(image, [(96, 32), (256, 1)]))
    assert fs.details["descriptor_sequence"] == "reserve volume descriptor sequence"
    assert fs.details["anchors"]["256"] == "unreadable" and fs.details["anchor_lba"] != 256
    assert set(files) == set(intact)
    assert all("reserve volume descriptor sequence" in f.verdict for f in files.values())
    assert {u.lba for u in analysis.unreadable if u.what == "descriptor"} >= set(main)


@pytest.mark.parametrize("media,revision", [("cdr", "2.01"), ("bdr", "2.50"), ("bdr", "2.60")])
def test_the_vat_is_found_from_the_last_recorded_sector(tmp_path, media, revision):
    image = mk.mkudffs(tmp_path / f"{media}.udf", media, revision, "--vat", blocks=4000)
    info = mk.udfinfo(image)
    fs, files, _ = _udf(image)
    virtual = next(m for m in fs.details["partition_maps"] if m["kind"] == "virtual")
    assert virtual["vat"]["lba"] == int(info["vatblock"])
    assert (virtual["vat"]["files"], virtual["vat"]["directories"]) == (int(info["numfiles"]), int(info["numdirs"]))
    assert set(files) == {"/"} and files["/"].is_dir and not fs.problems
    # the domain's revision as written; udfinfo's udfrev is the minimum reader revision (2.50 for 2.60)
    assert fs.details["udf_revision"] == revision and virtual["vat"]["max_write_revision"] == revision
    assert fs.details["integrity"]["min_read_revision"] == info["udfrev"]
    # the capacity lies: the image runs on past the last recorded sector (zeros, as unwritten blocks read)
    padded = tmp_path / "padded.udf"
    padded.write_bytes(image.read_bytes() + bytes(500 * SECTOR))
    fs, files, _ = _udf(padded)
    assert fs.details["last_recorded_sector"] == int(info["vatblock"])
    assert next(m for m in fs.details["partition_maps"] if m["kind"] == "virtual")["vat"]["lba"] == int(info["vatblock"])
    assert set(files) == {"/"}


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    """A UDF 2.50 metadata partition (our converter: no Debian tool writes one) from a volume udfclient
    wrote; udfclient and the Linux kernel's udf driver (tests/e2e/test_udf_kernel.py) read it."""
    out = tmp_path_factory.mktemp("metadata")
    physical = mk.mkudffs(out / "hd.udf", "hd", "2.01")
    content = mk.put_tree(physical, out / "work")
    layout = mk.to_metadata_partition(physical, out / "meta.udf")
    return out / "meta.udf", content, layout, out


def test_a_metadata_partition_lists_what_udfclient_lists(metadata):
    image, content, layout, out = metadata
    fs, files, _ = _udf(image)
    assert [m["kind"] for m in fs.details["partition_maps"]] == ["physical", "metadata"]
    assert fs.details["udf_revision"] == "2.50" and not fs.problems
    for folder in ("", "d", "d/e"):
        for name, (is_dir, size) in mk.udfclient_ls(image, folder).items():
            f = files["/" + "/".join(p for p in (folder, name) if p)]
            assert (f.is_dir, f.size) == (is_dir, size)
    theirs = mk.udfclient_get_all(image, list(content), out)
    for path, body in content.items():
        f = files[path]
        assert theirs[path] == body and (f.embedded or _bytes(image, f) == body), path
    assert {f.verdict for f in files.values()} == {"intact"}


def test_an_unreadable_metadata_block_is_read_from_the_mirror(metadata):
    image, content, layout, _ = metadata
    fs, intact, _ = _udf(image)
    start = layout["partition_start"]
    d_entry = intact["/d"].entry_lba                        # /d's file entry, a metadata partition block
    fs, files, analysis = _udf(image, _map(image, [(d_entry, 1)]))
    assert set(files) == set(intact)
    assert files["/d"].read_via == "metadata mirror" and files["/d"].entry_lba == start + layout["mirror"] + (d_entry - start)
    assert files["/d/mid.bin"].verdict == "recovered via metadata mirror"
    assert files["/big.bin"].verdict == "intact"
    assert (d_entry, "file entry") in {(u.lba, u.what) for u in analysis.unreadable}
    # the metadata file's own entry lost: every block comes through the mirror file
    fs, files, _ = _udf(image, _map(image, [(start + layout["metadata_file"], 1)]))
    assert set(files) == set(intact) and fs.details["read_via"] == "metadata mirror"
    # both copies of /d's entry lost: /d and what it holds are not listed, and both losses are named
    mirror_copy = start + layout["mirror"] + (d_entry - start)
    fs, files, analysis = _udf(image, _map(image, [(d_entry, 1), (mirror_copy, 1)]))
    assert not any(p.startswith("/d") for p in files) and "/big.bin" in files
    assert {(d_entry, "file entry"), (mirror_copy, "file entry (metadata mirror)")} <= {
        (u.lba, u.what) for u in analysis.unreadable}


def test_when_the_capacity_lies_the_anchor_at_the_last_recorded_sector_is_found(sparable, tmp_path):
    image, content, _ = sparable
    fs, intact, _ = _udf(image)
    last = image.stat().st_size // SECTOR - 1                # mkudffs put an anchor in the volume's last sector
    padded = tmp_path / "padded.udf"
    padded.write_bytes(image.read_bytes() + bytes(700 * SECTOR))    # the image runs on: unwritten, zeros
    fs, files, _ = _udf(padded, _map(padded, [(256, 1)]))
    assert fs.details["anchors"]["256"] == "unreadable"
    assert fs.details["last_recorded_sector"] == last and fs.details["anchor_lba"] in (last, last - 256)
    assert set(files) == set(intact) and all("anchor at" in f.verdict for f in files.values())


def test_a_named_stream_is_listed_with_its_file(sparable, tmp_path):
    image, content, _ = sparable
    fs, files, _ = _udf(image)
    start = fs.details["partitions"][0]["start"]
    streamed = tmp_path / "streams.udf"
    shutil.copy(image, streamed)
    mk.add_named_stream(streamed, files["/d/mid.bin"].entry_lba, start, "comment", b"a stream of 23 bytes...")
    fs, files, _ = _udf(streamed)
    stream = files["/d/mid.bin:comment"]
    assert stream.size == 23 and stream.embedded and stream.metadata["stream_of"] == "/d/mid.bin"
    assert files["/d/mid.bin"].metadata["stream_directory"][1] > 0 and not fs.problems
    assert mk.udfclient_get(streamed, "/d/mid.bin", tmp_path) == content["/d/mid.bin"]   # the file itself unchanged


def test_a_metadata_block_that_differs_from_its_mirror_is_reported(metadata, tmp_path):
    image, _content, layout, _ = metadata
    _, files, _ = _udf(image)
    d_entry = files["/d"].entry_lba
    mirror_copy = layout["partition_start"] + layout["mirror"] + (d_entry - layout["partition_start"])
    data = bytearray(image.read_bytes())
    data[mirror_copy * SECTOR + 2000] ^= 0x55                 # past the entry's used bytes: both still parse
    edited = tmp_path / "edited.udf"
    edited.write_bytes(bytes(data))
    fs, files, _ = _udf(edited)
    assert [p for p in fs.problems if "differs from its mirror" in p] == [
        f"metadata block at LBA {d_entry} (/d) differs from its mirror at LBA {mirror_copy}; read through the main one"]
