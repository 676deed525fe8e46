"""`acquire verify`'s completeness line: the image against every file system's own declared size, so
that an image cut short whose hashes match it is still caught, with the numbers."""
import json
import shutil
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import multisession as ms
from acquire.fs import declared
from acquire.fs.reader import SectorReader
from acquire.fs.systemarea import _apm, _gpt
from acquire.hashing import hash_file
from acquire.record import Record
from conftest import ROOT, SECTOR, run_acquire

sys.path.insert(0, str(ROOT / "fixtures"))
import make_fs_images as mk  # noqa: E402

pytestmark = pytest.mark.skipif(bool(ms.tools_missing()), reason=f"needs {', '.join(ms.TOOLS)}")


def acquire_image(directory, image, profile="cd-r"):
    """Acquire `image` from the simulated drive (its capacity: the image's size); the record's
    hashes are of exactly these bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, directory / "disc.iso")
    (directory / "disc.toml").write_text(f'[drive]\nserial = "SIM-C"\n\n[disc]\nprofile = "{profile}"\nimage = "disc.iso"\n')
    run_acquire("image", f"sim:{directory / 'disc.toml'}", directory / "out.iso", "--json", check_code=0)
    return directory / "out.iso.custody.sqlite"


def verify(record, *extra):
    done = run_acquire("verify", record, "--json", *extra)
    out = json.loads(done.stdout)
    return done.returncode, {c["name"]: c for c in out["checks"]}


def cut(image, out, sectors):
    out.write_bytes(image.read_bytes()[: sectors * SECTOR])
    return out


@pytest.fixture(scope="module")
def two_sessions(tmp_path_factory):
    return ms.cd_r_two_sessions(tmp_path_factory.mktemp("ms") / "cd")


def test_a_whole_multisession_image_is_complete(two_sessions, tmp_path):
    record = acquire_image(tmp_path / "a", two_sessions.image)
    code, checks = verify(record)
    assert code == 0 and checks["completeness"]["ok"], checks["completeness"]
    assert "to sector 11643" in checks["completeness"]["summary"]


def test_an_image_cut_inside_the_iso_volume_space_fails_though_its_hashes_match(tmp_path):
    """The disc image itself is cut (the drive reports the short capacity): the record's hashes are
    of the cut image, so the image line passes and only completeness fails."""
    tree = mk.make_tree(tmp_path / "tree")
    whole = mk.xorriso_iso(tree, tmp_path / "whole.iso")
    space = whole.stat().st_size // SECTOR
    record = acquire_image(tmp_path / "a", cut(whole, tmp_path / "cut.iso", 1000))
    code, checks = verify(record)
    assert code == 1 and checks["image"]["ok"] and checks["record"]["ok"]
    assert not checks["completeness"]["ok"]
    assert checks["completeness"]["summary"] == (
        f"the image holds 1000 sectors ({1000 * SECTOR} bytes), but ISO 9660 volume space ends at sector "
        f"{space}: {space - 1000} sectors missing")
    text = run_acquire("verify", record, "--no-record").stdout
    assert f"FAIL completeness: the image holds 1000 sectors ({1000 * SECTOR} bytes)" in text


def test_a_record_rewritten_to_match_a_cut_image_is_still_caught(two_sessions, tmp_path):
    """The image is cut after acquisition and the record's hashes rewritten for it and re-sealed:
    chain, record, seal and image all pass; the last session's volume space says what is missing."""
    record_path = acquire_image(tmp_path / "a", two_sessions.image)
    image = tmp_path / "a" / "out.iso"
    keep = two_sessions.starts[1] + 30
    image.write_bytes(image.read_bytes()[: keep * SECTOR])
    hashes = hash_file(image)
    record = Record.open(record_path)
    try:
        with record.db.conn:
            for name, value in hashes.as_dict().items():
                record.db.conn.execute("UPDATE hashes SET hex = ?, size = ? WHERE scope = 'image' AND algorithm = ?",
                                       (value, hashes.size, name))
            record.db.conn.execute("DELETE FROM windows")
            record.db.conn.executemany("INSERT INTO windows (idx, offset, length, xxh128, sha256) VALUES (?, ?, ?, ?, ?)",
                                       [(w.index, w.offset, w.length, w.xxh128, w.sha256) for w in hashes.windows])
        record.seal(None)
    finally:
        record.close()
    code, checks = verify(record_path, "--no-record")
    assert checks["image"]["ok"] and checks["record"]["ok"], (checks["image"], checks["record"])
    assert code == 1 and not checks["completeness"]["ok"]
    summary = checks["completeness"]["summary"]
    assert summary.startswith(f"the image holds {keep} sectors") and "ISO 9660 session 2 volume space ends at sector 11643" in summary
    assert f"{11643 - keep} sectors missing" in summary


@pytest.fixture(scope="module")
def fs_images(tmp_path_factory):
    out = tmp_path_factory.mktemp("fs")
    tree = mk.make_tree(out / "tree")
    return {"hybrid": mk.xorriso_iso(tree, out / "hybrid.iso", hybrid=True),
            "bridge": mk.genisoimage_udf_bridge(tree, out / "bridge.iso"),
            "hfs": mk.genisoimage_hfs(tree, out / "hfs.iso"),
            "hfsplus": mk.xorriso_hfsplus(tree, out / "hfsplus.iso")}


# the structure that states the furthest end of each image, as the tools wrote it
FURTHEST = {"hybrid": "GPT backup header", "bridge": "ISO 9660 volume space", "hfs": "ISO 9660 volume space",
            "hfsplus": "APM partition 4 (ISO9660_data)"}


@pytest.mark.parametrize("name", sorted(FURTHEST))
def test_no_whole_image_is_short_of_what_its_file_systems_declare(fs_images, name):
    image = fs_images[name]
    sizes = declared.merged(declared.from_image(image))
    assert sizes and all(s.end_bytes <= image.stat().st_size for s in sizes), sizes
    assert sizes[0].structure == FURTHEST[name] and sizes[0].end_bytes == image.stat().st_size


@pytest.mark.parametrize("name, inner", [("hybrid", "GPT partition 2 (EFI System)"), ("bridge", "UDF partition 0"),
                                         ("hfs", "HFS volume"), ("hfsplus", "HFS+ volume")])
def test_a_cut_inside_each_file_system_is_named(fs_images, tmp_path, name, inner):
    image = fs_images[name]
    whole = {s.structure: s for s in declared.from_image(image)}
    keep = whole[inner].end_sectors - 1
    short = cut(image, tmp_path / "cut.iso", keep)
    over = {s.structure for s in declared.merged(declared.from_image(short)) if s.end_bytes > keep * SECTOR}
    assert inner in over


# --- byte vectors: xorriso 1.5.4's own output (-isohybrid-gpt-basdat, -hfsplus), annotated ----------

# GPT header at 512-byte LBA 1 (UEFI 2.x table 5-5): "EFI PART", revision 1.0, header size 92,
# header CRC32, reserved, MyLBA 1, AlternateLBA 0x3437 = 13367, FirstUsableLBA 0x40, LastUsableLBA
# 0x33f8, DiskGUID, PartitionEntryLBA 2, NumberOfPartitionEntries 0xf8 = 248, SizeOfPartitionEntry
# 0x80, PartitionEntryArrayCRC32
GPT_HEADER = bytes.fromhex(
    "45 46 49 20 50 41 52 54 00 00 01 00 5c 00 00 00"
    "c2 70 76 00 00 00 00 00 01 00 00 00 00 00 00 00"
    "37 34 00 00 00 00 00 00 40 00 00 00 00 00 00 00"
    "f8 33 00 00 00 00 00 00 7f 43 5a a4 62 1c a2 44"
    "a6 a2 dd 58 29 40 4c 73 02 00 00 00 00 00 00 00"
    "f8 00 00 00 80 00 00 00 d6 26 36 e0")
# partition entry 2 (table 5-6): type EFI System C12A7328-F81F-11D2-BA4B-00A0C93EC93B, unique GUID,
# StartingLBA 0x2660 = 9824, EndingLBA 0x319f = 12703, attributes 0, name "Appended2" (UTF-16LE)
GPT_ENTRY_2 = bytes.fromhex(
    "28 73 2a c1 1f f8 d2 11 ba 4b 00 a0 c9 3e c9 3b 7f 43 5a a4 62 1c a2 44 a6 a0 dd 58 29 40 4c 73"
    "60 26 00 00 00 00 00 00 9f 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00") + "Appended2".encode("utf-16-le")

# Apple partition map (Inside Macintosh: Devices 3-25): block 0 the driver descriptor "ER", block
# size 0x0200; entry 3 at block 3: "PM", pmMapBlkCnt 4, pmPyPartStart 0x80 = 128, pmPartBlkCnt
# 0x90 = 144, pmPartName "HFSPLUS_Hybrid", pmParType "Apple_HFS"
APM_DDM = bytes.fromhex("45 52 02 00 eb 02 ff ff")


def _apm_entry(head: str, name: bytes, kind: bytes) -> bytes:
    return bytes.fromhex(head) + name.ljust(32, b"\0") + kind.ljust(32, b"\0")


APM_ENTRIES = [  # blocks 1-3 as xorriso wrote them (the map names 4 entries; the 4th is not needed here)
    _apm_entry("50 4d 00 00 00 00 00 04 00 00 00 01 00 00 00 04", b"Apple", b"Apple_partition_map"),
    _apm_entry("50 4d 00 00 00 00 00 04 00 00 00 40 00 00 00 40", b"Gap0", b"ISO9660_data"),
    _apm_entry("50 4d 00 00 00 00 00 04 00 00 00 80 00 00 00 90", b"HFSPLUS_Hybrid", b"Apple_HFS"),
]


def _image(tmp_path, pieces):
    data = bytearray(64 * SECTOR)
    for offset, body in pieces:
        data[offset:offset + len(body)] = body
    path = tmp_path / "vector.img"
    path.write_bytes(bytes(data))
    return path


def test_a_gpt_header_states_its_backup_header_and_partition_ends(tmp_path):
    path = _image(tmp_path, [(512, GPT_HEADER), (1024 + 128, GPT_ENTRY_2)])
    with SectorReader(path, None) as reader:
        gpt = _gpt(reader, reader.read(0, 2), None)
    assert (gpt["block_size"], gpt["alternate_lba"], gpt["first_usable_lba"], gpt["last_usable_lba"]) == (512, 13367, 64, 13304)
    (entry,) = gpt["partitions"]
    assert (entry["number"], entry["type"], entry["first_lba"], entry["last_lba"], entry["name"]) == (
        2, "EFI System", 9824, 12703, "Appended2")
    ends = {s.structure: s.end_bytes for s in declared.from_details("gpt", gpt)}
    assert ends == {"GPT backup header": 13368 * 512, "GPT partition 2 (EFI System)": 12704 * 512}


def test_an_apple_partition_map_entry_states_its_partitions_end(tmp_path):
    path = _image(tmp_path, [(0, APM_DDM), *((block * 512, e) for block, e in enumerate(APM_ENTRIES, 1))])
    with SectorReader(path, None) as reader:
        apm = _apm(reader, reader.read(0, 2))
    entry = next(p for p in apm["partitions"] if p["number"] == 3)
    assert (apm["block_size"], entry["first_block"], entry["blocks"], entry["name"], entry["type"]) == (
        512, 128, 144, "HFSPLUS_Hybrid", "Apple_HFS")
    ends = {s.structure: s.end_bytes for s in declared.from_details("apm", apm)}
    assert ends == {"APM partition 1 (Apple_partition_map)": 5 * 512, "APM partition 2 (ISO9660_data)": 128 * 512,
                    "APM partition 3 (Apple_HFS)": (128 + 144) * 512}


def test_a_protective_mbr_spanning_every_sector_states_no_end():
    mbr = {"partitions": [{"number": 1, "type": "ee", "first_lba_512": 1, "sectors_512": 0xFFFF_FFFF}]}
    assert declared.from_details("mbr", mbr) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=SECTOR * 4), st.sampled_from([0, 1, 16, 256]), st.booleans())
def test_declared_sizes_of_any_bytes_never_raise(tmp_path, noise, at, signatures):
    """Noise where the structures are looked for (MBR, GPT, APM, HFS, ISO 9660, UDF anchor), with
    their signatures planted or not: every end stated is a number, nothing raises."""
    data = bytearray(300 * SECTOR)
    data[at * SECTOR: at * SECTOR + len(noise)] = noise
    if signatures:
        data[510:512], data[512:520], data[0:2] = b"\x55\xaa", b"EFI PART", b"ER"
        data[16 * SECTOR: 16 * SECTOR + 7] = b"\x01CD001\x01"
    path = tmp_path / "noise.img"
    path.write_bytes(bytes(data))
    sizes = declared.merged(declared.from_image(path))
    assert all(isinstance(s.end_bytes, int) and s.end_bytes >= 0 for s in sizes)


# HFS master directory block 1024 bytes into the volume (Inside Macintosh: Files 2-60), as
# genisoimage 1.1.11 -hfs wrote it: drSigWord "BD", drCrDate, drLsMod, drAtrb 0x8180, drNmFls 3,
# drVBMSt 3, drAllocPtr 0x43, drNmAlBlks 0x01b8 = 440, drAlBlkSiz 0x800 = 2048, drClpSiz 0x2000,
# drAlBlSt 4 (512-byte units), drNxtCNID 0x17, drFreeBks 0, drVN "ACQ_HFS" (Pascal string)
HFS_MDB = bytes.fromhex(
    "42 44 e7 36 05 08 e7 36 05 08 81 80 00 03 00 03"
    "00 43 01 b8 00 00 08 00 00 00 20 00 00 04 00 00"
    "00 17 00 00 07 41 43 51 5f 48 46 53 00 00 00 00")


def test_an_hfs_master_directory_block_states_its_volumes_end(tmp_path):
    from acquire.fs.systemarea import hfs_volume
    path = _image(tmp_path, [(1024, HFS_MDB)])
    with SectorReader(path, None) as reader:
        kind, label, details = hfs_volume(reader, 0)
    assert (kind, label, details["allocation_blocks"], details["allocation_block_size"],
            details["first_allocation_block_512"]) == ("hfs", "ACQ_HFS", 440, 2048, 4)
    (end,) = declared.from_details("hfs", details)
    assert end.end_bytes == 4 * 512 + 440 * 2048
