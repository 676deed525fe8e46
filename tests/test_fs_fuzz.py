"""The file-system parsers take arbitrary bytes: a damaged or hostile disc gives findings, never an
exception or a hang. Images are built around the structures' fixed points (the descriptor set at
16, a UDF anchor in the last sector, tags with valid checksums) so that random bytes reach the
parsers behind them, and read through a SectorReader with a random map."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquire.fs import eltorito, udf_descriptors
from acquire.fs.analyze import analyze_image
from acquire.fs.iso9660_records import parse_path_table, parse_record
from acquire.fs.reader import SECTOR
from acquire.fs.volume import parse_boot_record, parse_primary_volume, parse_supplementary_volume
from acquire.record.fs_tables import Analysis
from acquire.rescue.sectormap import SectorMap, State

IMAGE_SECTORS = 48
FUZZ = settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


def _small_lba() -> st.SearchStrategy[int]:
    return st.integers(0, IMAGE_SECTORS + 4)


def _tagged(ident: int, body: bytes, location: int) -> bytes:
    """A sector whose ECMA-167 tag (3/7.2) is valid: identifier, version 2, checksum, location."""
    sector = bytearray(body.ljust(SECTOR, b"\0")[:SECTOR])
    struct.pack_into("<HH", sector, 0, ident, 2)
    struct.pack_into("<I", sector, 12, location)
    sector[4] = (sum(sector[:4]) + sum(sector[5:16])) & 0xFF
    return bytes(sector)


@st.composite
def disc_images(draw) -> tuple[bytes, list[tuple[int, int]]]:
    """An image with ISO 9660, Joliet, El Torito and UDF landmarks around random bytes, and bad runs."""
    sectors = [bytearray(draw(st.binary(max_size=SECTOR)).ljust(SECTOR, b"\0")) for _ in range(IMAGE_SECTORS)]
    # the descriptor set: primary, boot record, Joliet supplementary, terminator
    for lba, head in ((16, b"\x01CD001\x01"), (17, b"\x00CD001\x01"), (18, b"\x02CD001\x01"), (19, b"\xffCD001\x01")):
        sectors[lba][:7] = head
    sectors[17][7:30] = b"EL TORITO SPECIFICATION"
    struct.pack_into("<I", sectors[17], 0x47, draw(_small_lba()))
    sectors[18][88:91] = b"%/E"
    for vd in (16, 18):   # the root record and path tables point inside the image
        sectors[vd][156] = 34
        struct.pack_into("<I", sectors[vd], 158, draw(_small_lba()))               # root extent
        struct.pack_into("<I", sectors[vd], 166, draw(st.integers(0, (1 << 32) - 1)))  # root data length
        struct.pack_into("<II", sectors[vd], 132, draw(st.integers(0, 3 * SECTOR)), 0)
        struct.pack_into("<I", sectors[vd], 140, draw(_small_lba()))
    catalog = draw(st.integers(20, IMAGE_SECTORS - 1))
    sectors[catalog][0], sectors[catalog][30:32] = 0x01, b"\x55\xaa"   # a validation entry
    # UDF: a recognition sequence after the set, an anchor in the last sector, tagged descriptors
    sectors[20][1:6], sectors[21][1:6], sectors[22][1:6] = b"BEA01", b"NSR02", b"TEA01"
    for lba in draw(st.lists(st.integers(23, IMAGE_SECTORS - 2), max_size=12)):
        ident = draw(st.sampled_from((1, 5, 6, 8, 256, 257, 258, 261, 266)))
        sectors[lba][:] = _tagged(ident, bytes(sectors[lba]), lba)
    avdp = bytearray(sectors[-1])
    struct.pack_into("<II", avdp, 16, draw(st.integers(0, 16)) * SECTOR, draw(st.integers(23, IMAGE_SECTORS - 2)))
    sectors[-1][:] = _tagged(udf_descriptors.AVDP, bytes(avdp), IMAGE_SECTORS - 1)
    bad = draw(st.lists(st.tuples(st.integers(0, IMAGE_SECTORS - 1), st.integers(1, 4)), max_size=3))
    return b"".join(sectors), bad


@FUZZ
@given(disc_images())
def test_any_image_gives_an_analysis_and_never_raises(image):
    data, bad = image
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.iso"
        path.write_bytes(data)
        smap = SectorMap(IMAGE_SECTORS, State.FINISHED)
        for lba, count in bad:
            smap.set(lba, min(count, IMAGE_SECTORS - lba), State.BAD)
        for m in (None, smap):
            analysis = analyze_image(path, m)
            assert isinstance(analysis, Analysis) and analysis.image_sectors == IMAGE_SECTORS


@FUZZ
@given(st.binary(min_size=SECTOR, max_size=SECTOR))
def test_any_sector_is_a_descriptor_or_none(sector):
    for head in (b"\x00CD001\x01", b"\x01CD001\x01", b"\x02CD001\x01"):
        s = head + sector[7:]
        parsed = [parse_primary_volume(s), parse_supplementary_volume(s), parse_boot_record(s)]
        assert sum(p is not None for p in parsed) == 1
        if parsed[2] is not None:
            eltorito.catalog_lba(parsed[2])


@FUZZ
@given(st.binary(max_size=4 * SECTOR))
def test_any_bytes_as_a_catalog_directory_or_path_table_parse_or_give_none(data):
    catalog = b"\x01" + data[1:30] + b"\x55\xaa" + data[32:]
    eltorito.parse_catalog(catalog, 20)
    for offset in range(0, max(0, len(data) - 1), 97):
        parse_record(data, offset, joliet=bool(offset % 2), entry_lba=0)
    parse_path_table(data, "<", False)
    parse_path_table(data, ">", True)


@FUZZ
@given(st.binary(min_size=SECTOR, max_size=SECTOR), st.sampled_from((0, 1, 2)))
def test_any_sector_decodes_as_udf_descriptors(d, ad_type):
    udf_descriptors.anchor_extents(d)
    udf_descriptors.primary_volume(d)
    udf_descriptors.partition(d)
    udf_descriptors.partition_maps(d, udf_descriptors.logical_volume(d).map_count)
    udf_descriptors.file_set(d)
    fe = udf_descriptors.file_entry(d, bool(d[0] & 1))
    list(udf_descriptors.allocation_descriptors(fe.ads, ad_type, 0))
    list(udf_descriptors.file_identifiers(d))
    udf_descriptors.path_components(d)
    udf_descriptors.allocation_extent(d)


def test_a_directory_claiming_4_gb_past_the_image_end_is_one_finding(tmp_path):
    image = bytearray(20 * SECTOR)
    pvd = 16 * SECTOR
    image[pvd:pvd + 7] = b"\x01CD001\x01"
    image[pvd + 156] = 34                                               # the root's record (ECMA-119 9.1)
    struct.pack_into("<I", image, pvd + 158, 18)                        # extent at 18 (bytes 2-5) ...
    struct.pack_into("<I", image, pvd + 166, 0xFFFF_F800)               # ... of ~4 GiB (bytes 10-13)
    image[pvd + 156 + 32] = 1                                           # name length 1, name 00h
    image[17 * SECTOR:17 * SECTOR + 7] = b"\xffCD001\x01"               # set terminator
    (tmp_path / "big.iso").write_bytes(image)
    iso = next(fs for fs in analyze_image(tmp_path / "big.iso", None).filesystems if fs.kind == "iso9660")
    assert [p for p in iso.problems if "past the image" in p] == [
        "directory /: sectors 20..2097168 are past the image's end; their entries are lost"]
