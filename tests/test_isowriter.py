import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from acquire.errors import AcquireError, OutOfSpace
from acquire.isowriter import SECTOR_BYTES, IsoReader, IsoWriter


def sector(fill: int) -> bytes:
    return bytes([fill]) * SECTOR_BYTES


def test_write_puts_each_run_at_lba_times_2048(tmp_path):
    path = tmp_path / "disc.iso"
    with IsoWriter(path, 10) as image:
        image.preallocate()
        image.write(7, sector(7) + sector(8))
        image.write(2, memoryview(sector(2)))
        image.sync()
        assert image.read(7, 2) == sector(7) + sector(8)
    data = path.read_bytes()
    assert len(data) == 10 * SECTOR_BYTES
    assert data[2 * SECTOR_BYTES:3 * SECTOR_BYTES] == sector(2)
    assert data[7 * SECTOR_BYTES:9 * SECTOR_BYTES] == sector(7) + sector(8)
    assert data[:2 * SECTOR_BYTES] == bytes(2 * SECTOR_BYTES)


def test_zero_fills_the_sectors_explicitly_across_several_bounded_writes(tmp_path):
    path = tmp_path / "disc.iso"
    count = 1200                                    # more than one 1 MiB zero chunk
    with IsoWriter(path, count + 2) as image:
        image.write(0, sector(0xFF) * (count + 2))
        image.zero(1, count)
        assert image.read(0, 1) == sector(0xFF)
        assert image.read(1, count) == bytes(count * SECTOR_BYTES)
        assert image.read(count + 1, 1) == sector(0xFF)


def test_reopening_an_image_never_truncates_it_resume(tmp_path):
    path = tmp_path / "disc.iso"
    with IsoWriter(path, 4) as image:
        image.preallocate()
        image.write(3, sector(3))
    with IsoWriter(path, 4) as image:
        assert image.read(3, 1) == sector(3)
        image.preallocate()
        assert image.read(3, 1) == sector(3)
    assert path.stat().st_size == 4 * SECTOR_BYTES


def test_preallocate_sets_the_size_and_allocates_the_blocks(tmp_path):
    path = tmp_path / "disc.iso"
    with IsoWriter(path, 513) as image:
        image.preallocate()
    assert path.stat().st_size == 513 * SECTOR_BYTES
    assert path.stat().st_blocks * 512 >= 513 * SECTOR_BYTES


def test_preallocate_refuses_an_image_larger_than_the_disc(tmp_path):
    path = tmp_path / "disc.iso"
    path.write_bytes(bytes(5 * SECTOR_BYTES))
    with IsoWriter(path, 4) as image, pytest.raises(AcquireError, match="more than the disc"):
        image.preallocate()
    assert path.stat().st_size == 5 * SECTOR_BYTES


def test_read_at_the_end_of_a_short_file_returns_what_is_there(tmp_path):
    path = tmp_path / "disc.iso"
    with IsoWriter(path, 4) as image:
        image.write(0, sector(1))
        assert image.read(0, 4) == sector(1)


def test_writes_outside_the_disc_or_of_partial_sectors_are_bugs(tmp_path):
    with IsoWriter(tmp_path / "disc.iso", 4) as image:
        with pytest.raises(ValueError):
            image.write(4, sector(0))
        with pytest.raises(ValueError):
            image.write(0, b"x" * 100)
        with pytest.raises(ValueError):
            image.zero(3, 2)


def test_an_image_in_a_missing_directory_is_one_clear_error(tmp_path):
    with pytest.raises(AcquireError, match=r"cannot open image .*No such file or directory"):
        IsoWriter(tmp_path / "nowhere" / "disc.iso", 4)


def test_a_readonly_image_is_never_created(tmp_path):
    with pytest.raises(AcquireError):
        IsoReader(tmp_path / "disc.iso", 4)
    assert not (tmp_path / "disc.iso").exists()


def test_check_space_passes_when_it_fits_and_counts_blocks_already_allocated(tmp_path):
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    IsoWriter.check_space(tmp_path / "disc.iso", 1 << 20)
    with pytest.raises(OutOfSpace) as caught:
        IsoWriter.check_space(tmp_path / "disc.iso", free + (1 << 30))
    message = str(caught.value)
    assert "\n" not in message and "needs" in message and "free on" in message
    assert "run the same command to resume" in message
    assert caught.value.exit_code == 4


# -- a real full file system: a 1 MiB tmpfs -----------------------------------------------------------

@pytest.fixture
def tiny_fs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root; OutOfSpace on a real full disk not exercised")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); OutOfSpace on a real full disk not exercised")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_preallocate_beyond_a_full_tmpfs_raises_out_of_space_with_the_numbers(tiny_fs):
    sectors = 1024                                      # 2 MiB into 1 MiB
    with IsoWriter(tiny_fs / "disc.iso", sectors) as image:
        with pytest.raises(OutOfSpace) as caught:
            image.preallocate()
    assert str(caught.value) == (
        f"not enough space for {tiny_fs / 'disc.iso'}: needs 2.1 MB, 1.0 MB free on {tiny_fs} "
        "(2097152 bytes still to allocate, 1048576 bytes available); "
        "free space or choose another place, then run the same command to resume")


def test_writing_past_a_full_tmpfs_raises_out_of_space(tiny_fs):
    sectors = 1024
    with pytest.raises(OutOfSpace, match=r"^not enough space for .*: needs 2\.1 MB, .* free on "):
        with IsoWriter(tiny_fs / "disc.iso", sectors) as image:   # no preallocate: a sparse file fills up
            for lba in range(0, sectors, 64):
                image.write(lba, bytes(64 * SECTOR_BYTES))


def test_check_space_on_a_tiny_tmpfs_says_how_much_is_needed_and_free(tiny_fs):
    with pytest.raises(OutOfSpace) as caught:
        IsoWriter.check_space(tiny_fs / "disc.iso", 4_700_000_000)
    message = str(caught.value)
    assert "needs 4.7 GB" in message and f"1.0 MB free on {tiny_fs}" in message
    assert "4700000000 bytes still to allocate, 1048576 bytes available" in message


def test_check_space_counts_what_a_partial_image_already_holds(tiny_fs):
    path = tiny_fs / "disc.iso"
    path.write_bytes(bytes(768 * 1024))               # a resumed image already holds 768 KiB
    IsoWriter.check_space(path, 1 << 20)            # 1 MiB in all: 256 KiB more fits
    with pytest.raises(OutOfSpace):
        IsoWriter.check_space(Path(tiny_fs / "other.iso"), 1 << 20)


# -- the write-behind: in-order sectors gathered into 2 MiB blocks and written with O_DIRECT -----------------

def _cached_pages(path: Path) -> int:
    """Pages of `path` in the page cache, as util-linux's fincore counts them."""
    out = subprocess.run(["fincore", "--noheadings", "--bytes", "--output", "PAGES", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def test_in_order_sectors_reach_the_file_without_passing_through_the_page_cache(tmp_path):
    path = tmp_path / "disc.iso"
    sectors = 4096 + 1                                      # 8 MiB and one sector: the tail goes buffered
    data = os.urandom(sectors * SECTOR_BYTES)
    with IsoWriter(path, sectors) as image:
        if image._behind is None:
            pytest.skip(f"{tmp_path} refuses O_DIRECT: every write is buffered there")
        image.preallocate()
        for lba in range(0, sectors, 32):                   # 64 KiB reads, as the copy makes them
            n = min(32, sectors - lba)
            image.write(lba, data[lba * SECTOR_BYTES:(lba + n) * SECTOR_BYTES])
        image.sync()
        cached = _cached_pages(path)
    assert path.read_bytes() == data
    assert cached <= 1, f"{cached} pages of the image went through the page cache"


def test_read_sees_gathered_sectors_before_they_reach_the_file(tmp_path):
    with IsoWriter(tmp_path / "disc.iso", 64) as image:
        image.preallocate()
        image.write(0, sector(7) * 3)                       # still gathered: less than a block
        assert image.read(1, 2) == sector(7) * 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2047), st.integers(1, 1200), st.integers(1, 255)), min_size=1, max_size=25))
def test_any_sequence_of_writes_leaves_the_file_a_model_predicts(tmp_path, writes):
    """In order, out of order, overlapping, unaligned, across block edges: the last write of each sector wins."""
    sectors = 2048 + 1200
    model = bytearray(sectors * SECTOR_BYTES)
    path = tmp_path / f"disc-{len(writes)}-{writes[0][0]}.iso"
    path.unlink(missing_ok=True)
    with IsoWriter(path, sectors) as image:
        image.preallocate()
        for lba, count, fill in writes:
            count = min(count, sectors - lba)
            chunk = bytes([fill]) * (count * SECTOR_BYTES)
            image.write(lba, chunk)
            model[lba * SECTOR_BYTES:(lba + count) * SECTOR_BYTES] = chunk
            follow = min(lba + count, sectors - 16)         # and the next sectors continue it in order
            image.write(follow, bytes([fill ^ 0xFF]) * (16 * SECTOR_BYTES))
            model[follow * SECTOR_BYTES:(follow + 16) * SECTOR_BYTES] = bytes([fill ^ 0xFF]) * (16 * SECTOR_BYTES)
        assert image.read(0, sectors) == bytes(model)
    assert path.read_bytes() == bytes(model)
