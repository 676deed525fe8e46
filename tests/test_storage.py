"""Storage planned before the work (docs/storage.md): refuse, with the numbers, before anything is written."""
import os
import subprocess
from pathlib import Path

import pytest

from acquire.errors import NotEnoughSpace, OutOfSpace
from acquire.storage import (MiB, Need, age_estimate, plan, plan_export, plan_image, record_estimate,
                             tar_estimate)
from conftest import make_disc, run_acquire, write_profile


def mount_tmpfs(mount_point: Path, size: str) -> None:
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; planning against a real small file system not exercised")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")


@pytest.fixture
def small_fs(tmp_path):
    """A 64 MiB tmpfs (tests/test_isowriter.py's tiny_fs, larger: a record alone is planned at ~21 MiB)."""
    mount_point = tmp_path / "small"
    mount_tmpfs(mount_point, "64m")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def second_fs(tmp_path):
    mount_point = tmp_path / "second"
    mount_tmpfs(mount_point, "16m")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_cd_image_on_a_64_mib_file_system_is_refused_with_the_numbers_before_anything_is_written(small_fs):
    sectors = 333_000                                       # a 682 MB CD-ROM
    image_plan = plan_image(small_fs / "disc.iso", small_fs / "disc.iso.custody.sqlite", sectors, 2048)
    assert not image_plan.ok
    with pytest.raises(NotEnoughSpace) as caught:
        image_plan.check()
    assert str(caught.value) == (
        f"not enough space: {small_fs} needs 713.2 MB (image 682.0 MB, record 22.9 MB, "
        f"temporary files 8.4 MB), 67.1 MB free (713241344 bytes still to write, {64 * MiB} bytes available); "
        "free space or choose another place; nothing was read or written")
    assert caught.value.exit_code == 1 and not isinstance(caught.value, OutOfSpace)
    assert list(small_fs.iterdir()) == []


def test_a_small_disc_on_the_same_file_system_fits_and_check_passes(small_fs):
    image_plan = plan_image(small_fs / "disc.iso", small_fs / "disc.iso.custody.sqlite", 10_000, 2048)
    image_plan.check()
    (only,) = image_plan.filesystems
    assert only.mount_point == small_fs and only.free_bytes == 64 * MiB
    assert image_plan.lines() == [
        f"{small_fs}: needs 50.9 MB (image 20.5 MB, record 22.0 MB, temporary files 8.4 MB); 67.1 MB free: fits"]


def test_the_blocks_a_partial_image_already_holds_count_as_its_own(small_fs):
    partial = small_fs / "disc.iso"
    with open(partial, "wb") as f:
        f.write(bytes(30 * MiB))                         # a resumed image: 30 MiB already written
    sectors = 36 * MiB // 2048                            # 36 MiB in all: 6 more, plus the record
    record = small_fs / "disc.iso.custody.sqlite"
    resumed = plan_image(partial, record, sectors, 2048, tmp=Path("/tmp"))
    (fs_share,) = [fs for fs in resumed.filesystems if fs.mount_point == small_fs]
    assert fs_share.held_bytes == 30 * MiB
    resumed.check()
    with pytest.raises(NotEnoughSpace, match=rf"{small_fs} needs 68\.2 MB \(image 37\.7 MB, record 22\.1 MB, temporary files 8\.4 MB\), 35\.7 MB free "):
        plan_image(small_fs / "other.iso", small_fs / "other.iso.custody.sqlite", sectors, 2048).check()


def test_needs_on_two_file_systems_are_counted_apart_and_only_the_short_one_is_named(small_fs, second_fs):
    needs = [Need(small_fs / "disc.iso", 30 * MiB, "image"), Need(second_fs / "spool", 20 * MiB, "temporary files"),
             Need(small_fs / "disc.iso.custody.sqlite", 5 * MiB, "record")]
    planned = plan(needs)
    assert [(fs.mount_point, fs.needed_bytes, fs.ok) for fs in planned.filesystems] == [
        (small_fs, 35 * MiB, True), (second_fs, 20 * MiB, False)]
    with pytest.raises(NotEnoughSpace) as caught:
        planned.check()
    message = str(caught.value)
    assert f"{second_fs} needs 21.0 MB (temporary files 21.0 MB), 16.8 MB free" in message
    assert str(small_fs) + " needs" not in message


def test_tmp_puts_the_temporary_files_on_another_file_system(small_fs, second_fs):
    image_plan = plan_image(small_fs / "disc.iso", small_fs / "disc.iso.custody.sqlite", 10_000, 2048, tmp=second_fs)
    shares = {fs.mount_point: [n.what for n in fs.needs] for fs in image_plan.filesystems}
    assert shares == {small_fs: ["image", "record"], second_fs: ["temporary files"]}


def test_the_record_estimate_is_a_few_mib_and_grows_with_the_disc_and_the_runs():
    cd = record_estimate(333_000, 2048)
    dvd = record_estimate(2_295_104, 2048)
    assert 21 * MiB < cd < 23 * MiB and 25 * MiB < dvd < 27 * MiB
    assert record_estimate(333_000, 2048, runs=3) - cd == 32 * MiB


def test_the_measured_record_of_a_damaged_acquisition_is_within_its_estimate(tmp_path):
    sectors = 20_000
    make_disc(tmp_path / "disc.iso", sectors)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso", damage=[{"lbas": "5000-5599", "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", check_code=3)
    assert (tmp_path / "out.iso.custody.sqlite").stat().st_size < record_estimate(sectors, 2048)


def test_an_export_plan_counts_a_hard_linked_image_as_free_and_a_copied_one_in_full(tmp_path):
    make_disc(tmp_path / "disc.iso", 600)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso")
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", check_code=0)
    record = tmp_path / "out.iso.custody.sqlite"
    linked = plan_export(record, bag_dir=tmp_path / "bag")
    copied = plan_export(record, bag_dir=tmp_path / "bag", link=False)
    bag_need = lambda p: next(n for fs in p.filesystems for n in fs.needs if n.what.startswith("bag"))
    assert bag_need(copied).bytes - bag_need(linked).bytes == 600 * 2048
    assert bag_need(linked).what == "bag (image hard-linked)"
    both = plan_export(record, bag_dir=tmp_path / "bag", encrypted=tmp_path / "bag.tar.age", e01=tmp_path / "out.E01")
    whats = [n.what for fs in both.filesystems for n in fs.needs]
    assert whats == ["bag (image hard-linked)", "E01", "encrypted copy", "temporary files"]


def test_the_encrypted_copy_estimate_covers_what_the_tar_and_age_really_write(tmp_path):
    from acquire.export.encrypt import encrypt_to

    directory = tmp_path / "bag"
    (directory / "data").mkdir(parents=True)
    sizes = [0, 1, 511, 512, 70_000, 300_000]
    for i, size in enumerate(sizes):
        (directory / "data" / f"f{i}").write_bytes(os.urandom(size))
    done = subprocess.run(["age-keygen"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("needs Debian's age-keygen")
    public = next(line.split(": ")[1] for line in done.stdout.splitlines() if "public key" in line)
    out, _ = encrypt_to(directory, [public], tmp_path / "bag.tar.age")
    assert out.stat().st_size <= age_estimate(tar_estimate(sizes, entries=len(sizes) + 2))
