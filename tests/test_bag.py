"""BagIt bags of an acquisition (docs/bagit.md): RFC 8493 1.0, validated by bagit-python itself."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import bagit
import pytest

from acquire.errors import AcquireError, RecordError, UsageError
from acquire.export.bag import make_bag, verify_bag
from conftest import make_disc, run_acquire, write_profile

BAGIT_CLI = Path(sys.executable).with_name("bagit.py")


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    """One finished acquisition, made once; each test copies it."""
    where = tmp_path_factory.mktemp("acquired")
    make_disc(where / "disc.iso", 3000)
    profile = write_profile(where / "disc.toml", "disc.iso")
    run_acquire("image", f"sim:{profile}", where / "out.iso", "--case", "C-2024-17", "--evidence", "E-3",
                "--examiner", "A. Examiner", check_code=0)
    return where


@pytest.fixture
def acquired(acquisition, tmp_path):
    for name in ("out.iso", "out.iso.custody.sqlite", "out.iso.sha256", "out.iso.md5", "out.iso.sfv",
                 "out.iso.seal.json"):
        shutil.copy2(acquisition / name, tmp_path / name)
    return tmp_path / "out.iso.custody.sqlite"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_bag_passes_bagit_pythons_full_validation_and_its_command_line(acquired, tmp_path):
    bag_dir = make_bag(acquired, tmp_path / "bag")
    bag = bagit.Bag(str(bag_dir))
    bag.validate(fast=False)                                # raises on any problem
    assert bag.tags["BagIt-Version"] == "1.0" and sorted(bag.algorithms) == ["sha256", "sha512"]
    done = subprocess.run([sys.executable, str(BAGIT_CLI), "--validate", str(bag_dir)], capture_output=True, text=True)
    assert done.returncode == 0 and "is valid" in done.stderr, done.stderr
    assert verify_bag(bag_dir) == []


def test_the_payload_is_the_image_record_sums_and_the_four_reports(acquired, tmp_path):
    bag_dir = make_bag(acquired, tmp_path / "bag")
    assert sorted(p.name for p in (bag_dir / "data").iterdir()) == [
        "out.iso", "out.iso.custody.sqlite", "out.iso.dfxml", "out.iso.md5", "out.iso.report.disc-map.svg",
        "out.iso.report.html", "out.iso.report.json", "out.iso.report.md", "out.iso.report.sector-map.svg",
        "out.iso.seal.json", "out.iso.sfv", "out.iso.sha256"]
    assert sorted(p.name for p in bag_dir.iterdir()) == [
        "bag-info.txt", "bagit.txt", "data", "manifest-sha256.txt", "manifest-sha512.txt",
        "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"]
    assert (bag_dir / "bagit.txt").read_text() == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    assert "<dfxml" in (bag_dir / "data" / "out.iso.dfxml").read_text()
    # the sum files still check in data/, as they did beside the image
    done = subprocess.run(["sha256sum", "-c", "out.iso.sha256"], cwd=bag_dir / "data", capture_output=True, text=True)
    assert done.returncode == 0 and "out.iso: OK" in done.stdout


def test_the_seal_and_its_signature_are_bagged_when_they_are_beside_the_image(tmp_path):
    make_disc(tmp_path / "disc.iso", 600)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso")
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--sign-key", key, check_code=0)
    bag_dir = make_bag(tmp_path / "out.iso.custody.sqlite", tmp_path / "bag")
    for name in ("out.iso.seal.json", "out.iso.seal.json.sig"):
        assert (bag_dir / "data" / name).read_bytes() == (tmp_path / name).read_bytes()
    assert verify_bag(bag_dir) == []


def test_bag_info_names_the_case_the_evidence_the_organization_and_acquire(acquired, tmp_path):
    from acquire import __version__

    bag_dir = make_bag(acquired, tmp_path / "bag", source_organization="County Forensic Lab")
    info = bagit.Bag(str(bag_dir)).info
    payload = list((bag_dir / "data").iterdir())
    size = sum(p.stat().st_size for p in payload)
    assert info["External-Identifier"] == "C-2024-17/E-3"
    assert info["Bag-Group-Identifier"] == "C-2024-17"
    assert info["Internal-Sender-Identifier"] == "E-3"
    assert info["Source-Organization"] == "County Forensic Lab"
    assert info["Contact-Name"] == "A. Examiner"
    assert info["Bag-Software-Agent"] == f"acquire {__version__}"
    assert info["Payload-Oxum"] == f"{size}.{len(payload)}" and len(payload) == 12
    assert len(info["Bagging-Date"]) == 10 and info["Bagging-Date"][4] == "-"


def test_source_organization_defaults_to_the_environment(acquired, tmp_path, monkeypatch):
    monkeypatch.setenv("ACQUIRE_SOURCE_ORGANIZATION", "Lab from the environment")
    assert bagit.Bag(str(make_bag(acquired, tmp_path / "bag"))).info["Source-Organization"] == "Lab from the environment"
    monkeypatch.delenv("ACQUIRE_SOURCE_ORGANIZATION")
    assert "Source-Organization" not in bagit.Bag(str(make_bag(acquired, tmp_path / "bag2"))).info


def test_without_a_case_the_bag_is_identified_by_the_image_name(tmp_path):
    make_disc(tmp_path / "disc.iso", 200)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso")
    run_acquire("image", f"sim:{profile}", tmp_path / "plain.iso", check_code=0)
    info = bagit.Bag(str(make_bag(tmp_path / "plain.iso.custody.sqlite", tmp_path / "bag"))).info
    assert info["Internal-Sender-Identifier"] == "plain.iso"
    assert "External-Identifier" not in info and "Bag-Group-Identifier" not in info


def test_one_changed_byte_of_the_bagged_image_is_caught_by_bagit_and_by_verify_bag(acquisition, acquired, tmp_path):
    bag_dir = make_bag(acquired, tmp_path / "bag", link=False)
    image = bag_dir / "data" / "out.iso"
    with open(image, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate(fast=False)
    done = subprocess.run([sys.executable, str(BAGIT_CLI), "--validate", str(bag_dir)], capture_output=True, text=True)
    assert done.returncode != 0
    problems = verify_bag(bag_dir)
    assert any("data/out.iso" in p and "sha512" in p for p in problems), problems
    assert any(p.startswith("out.iso.custody.sqlite: image: ") for p in problems), problems
    assert sha256(tmp_path / "out.iso") == sha256(acquisition / "out.iso")     # a copy: the original is intact


def test_making_a_bag_leaves_the_record_byte_for_byte_as_it_was(acquired, tmp_path):
    before = sha256(acquired)
    make_bag(acquired, tmp_path / "bag")
    assert sha256(acquired) == before
    assert sha256(tmp_path / "bag" / "data" / "out.iso.custody.sqlite") == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out.iso.custody")) == [acquired.name]


def test_the_image_is_hard_linked_on_the_same_file_system_and_copied_when_asked(acquired, tmp_path):
    linked = make_bag(acquired, tmp_path / "linked")
    copied = make_bag(acquired, tmp_path / "copied", link=False)
    original = os.stat(tmp_path / "out.iso")
    assert os.stat(linked / "data" / "out.iso").st_ino == original.st_ino
    assert os.stat(copied / "data" / "out.iso").st_ino != original.st_ino
    assert os.stat(copied / "data" / "out.iso").st_mtime == original.st_mtime     # copy2 keeps the times
    # the record is always a copy: verify appends to the original, which must not change the bag
    assert os.stat(linked / "data" / "out.iso.custody.sqlite").st_ino != os.stat(acquired).st_ino


def test_an_existing_target_is_refused_and_a_failed_bag_leaves_nothing(acquired, tmp_path, monkeypatch):
    (tmp_path / "bag").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        make_bag(acquired, tmp_path / "bag")
    import acquire.export.bag as module

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(module.bagit, "make_bag", broken)
    with pytest.raises(Exception):
        make_bag(acquired, tmp_path / "other")
    assert sorted(p.name for p in tmp_path.iterdir() if "bag" in p.name or "other" in p.name) == ["bag"]


def test_a_record_still_being_written_is_refused(acquired, tmp_path):
    Path(f"{acquired}-wal").write_bytes(b"")
    with pytest.raises(RecordError, match="still being written"):
        make_bag(acquired, tmp_path / "bag")


def test_a_bag_is_refused_when_the_seal_the_record_names_is_not_beside_the_image(acquired, tmp_path):
    (tmp_path / "out.iso.seal.json").unlink()
    with pytest.raises(AcquireError, match="the record says out.iso.seal.json was written"):
        make_bag(acquired, tmp_path / "bag")
    assert not (tmp_path / "bag").exists()


def test_the_image_of_a_partial_acquisition_is_copied_so_a_resume_cannot_change_the_bag(tmp_path):
    make_disc(tmp_path / "disc.iso", 400)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso", damage=[{"lbas": "40-41", "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", check_code=3)
    bag_dir = make_bag(tmp_path / "out.iso.custody.sqlite", tmp_path / "bag")
    assert os.stat(bag_dir / "data" / "out.iso").st_ino != os.stat(tmp_path / "out.iso").st_ino
    assert verify_bag(bag_dir) == []
