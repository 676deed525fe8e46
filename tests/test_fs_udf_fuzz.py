"""UDF's further structures on arbitrary bytes, and real mkudffs/udfclient volumes with flipped
bytes in their first sectors, descriptor sequences, sparing tables and file entries: findings,
never an exception, a hang or unbounded memory."""
from __future__ import annotations

import random
import shutil
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquire.fs import udf_tables
from acquire.fs.analyze import analyze_image
from acquire.record.fs_tables import Analysis
from acquire.rescue.sectormap import SectorMap, State

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import make_udf_images as mk  # noqa: E402

FUZZ = settings(max_examples=50, deadline=30000, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
SECTOR = 2048


@FUZZ
@given(st.binary(max_size=3 * SECTOR), st.sampled_from((0, 248, 5)), st.booleans())
def test_any_bytes_decode_as_udf_tables_or_none(raw, file_type, extended):
    d = raw.ljust(SECTOR, b"\0")
    udf_tables.sparable_map(raw.ljust(64, b"\0"))
    udf_tables.type2_map(raw.ljust(64, b"\0"))
    udf_tables.sparing_table(raw)
    udf_tables.vat_table(raw, file_type)
    udf_tables.integrity(d)
    udf_tables.entry_metadata(d, extended)
    udf_tables.extended_attributes(raw)
    udf_tables.zoned_timestamp(raw[:12])


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    if not (shutil.which("mkudffs") and shutil.which("udfclient")):
        pytest.skip("needs udftools and udfclient")
    out = tmp_path_factory.mktemp("udffuzz")
    sparable = mk.mkudffs(out / "s.udf", "cdrw", "2.01", "--spartable", size_mib=40)
    mk.put_tree(sparable, out / "work")
    vat = mk.mkudffs(out / "v.udf", "bdr", "2.50", "--vat", blocks=4000)
    physical = mk.mkudffs(out / "p.udf", "hd", "2.01")
    mk.put_tree(physical, out / "work2")
    mk.to_metadata_partition(physical, out / "m.udf")
    return {"sparable": sparable.read_bytes(), "vat": vat.read_bytes(), "metadata": (out / "m.udf").read_bytes()}


@FUZZ
@given(which=st.sampled_from(("sparable", "vat", "metadata")), seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 64),
       where=st.sampled_from(("head", "descriptors", "tail", "entries")), bad=st.booleans())
def test_a_mutated_udf_volume_gives_findings(volumes, tmp_path, which, seed, flips, where, bad):
    data = volumes[which]
    rng = random.Random(seed)
    sectors = len(data) // SECTOR
    span = {"head": (0, 20 * SECTOR), "descriptors": (96 * SECTOR, 170 * SECTOR),
            "tail": ((sectors - 300) * SECTOR, 300 * SECTOR), "entries": (256 * SECTOR, 256 * SECTOR)}[where]
    span = (span[0], max(1, min(span[1], len(data) - span[0])))       # the VAT volume is 300 sectors
    image = bytearray(data)
    for _ in range(flips):
        image[span[0] + rng.randrange(span[1])] ^= 1 << rng.randrange(8)
    path = tmp_path / "m.udf"
    path.write_bytes(bytes(image))
    smap = None
    if bad:
        smap = SectorMap(sectors, State.FINISHED)
        smap.set(rng.randrange(sectors), 4, State.BAD)
    tracemalloc.start()
    analysis = analyze_image(path, smap)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(analysis, Analysis) and peak < 96 << 20
