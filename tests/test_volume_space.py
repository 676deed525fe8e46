"""The ISO 9660 volume space size decoded in one place (acquire/volume_space.py, ECMA-119 8.4.8)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from acquire.fs.volume import parse_primary_volume
from acquire.volume_space import primary_volume_space_size, volume_space_size

SMALL_ISO = Path(__file__).resolve().parents[1] / "fixtures" / "out" / "small.iso"


def _descriptor(head: bytes, size_le: bytes, size_be: bytes) -> bytes:
    # bytes 0-6 header, 80-83 size little-endian, 84-87 size big-endian (ECMA-119 8.4, 7.3.3)
    sector = bytearray(2048)
    sector[0:7] = head
    sector[80:88] = size_le + size_be
    return bytes(sector)


def test_the_volume_space_size_is_the_little_endian_half_of_bytes_80_to_87():
    pvd = _descriptor(bytes.fromhex("01 43 44 30 30 31 01"), bytes.fromhex("a0 8c 00 00"), bytes.fromhex("00 00 8c a0"))
    assert (volume_space_size(pvd), primary_volume_space_size(pvd)) == (36000, 36000)


def test_a_sector_that_is_not_a_primary_descriptor_has_no_volume_space_size():
    terminator = _descriptor(bytes.fromhex("ff 43 44 30 30 31 01"), bytes(4), bytes(4))
    assert primary_volume_space_size(terminator) is None
    assert primary_volume_space_size(b"\x01CD001") is None


@pytest.mark.skipif(shutil.which("isoinfo") is None, reason="isoinfo (Debian genisoimage) not installed")
def test_the_size_equals_isoinfo_and_the_pvd_dataclass_on_a_real_image():
    said = subprocess.run(["isoinfo", "-d", "-i", str(SMALL_ISO)], capture_output=True, text=True, check=True).stdout
    isoinfo_size = int(re.search(r"Volume size is: (\d+)", said).group(1))
    sector = SMALL_ISO.read_bytes()[16 * 2048:17 * 2048]
    assert primary_volume_space_size(sector) == isoinfo_size == parse_primary_volume(sector).volume_space_size
