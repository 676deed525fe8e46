"""Encrypted transport copies (docs/bagit.md): what Debian's age decrypts is the bag's tar, byte for byte."""
import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import bagit
import pytest

from acquire.errors import UsageError
from acquire.export.bag import make_bag, verify_bag
from acquire.export.encrypt import bag_tar, encrypt_to, parse_recipients, read_recipients
from conftest import make_disc, run_acquire, write_profile

pytestmark = pytest.mark.skipif(shutil.which("age") is None or shutil.which("ssh-keygen") is None,
                                reason="needs Debian's age and ssh-keygen (.ci/run installs them)")


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    where = tmp_path_factory.mktemp("bagged")
    make_disc(where / "disc.iso", 600)
    profile = write_profile(where / "disc.toml", "disc.iso")
    run_acquire("image", f"sim:{profile}", where / "out.iso", "--case", "C-9", "--evidence", "E-1", check_code=0)
    return make_bag(where / "out.iso.custody.sqlite", where / "C-9_E-1", link=False)


def age_identity(where: Path) -> tuple[Path, str]:
    identity = where / "identity.age"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = next(line.split(": ", 1)[1] for line in identity.read_text().splitlines() if "public key" in line)
    return identity, public


def ssh_identity(where: Path, kind: str) -> tuple[Path, str]:
    key = where / f"id_{kind}"
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "examiner@lab", "-f", str(key)],
                   check=True, capture_output=True)
    return key, key.with_suffix(".pub").read_text().strip()


def age_decrypt(identity: Path, ciphertext: Path) -> bytes:
    done = subprocess.run(["age", "-d", "-i", str(identity), str(ciphertext)], capture_output=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tar_bytes(directory: Path) -> bytes:
    buffer = io.BytesIO()
    bag_tar(directory, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["age", "ssh-ed25519", "ssh-rsa"])
def test_age_decrypts_the_copy_to_the_bags_tar_byte_for_byte_and_it_extracts_to_a_valid_bag(bag, tmp_path, kind):
    identity, recipient = age_identity(tmp_path) if kind == "age" else ssh_identity(tmp_path, kind.split("-")[1])
    out, digest = encrypt_to(bag, [recipient], tmp_path / "C-9_E-1.tar.age")
    assert out == tmp_path / "C-9_E-1.tar.age"
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    plain = age_decrypt(identity, out)
    assert plain == tar_bytes(bag)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        tar.extractall(tmp_path / "received", filter="data")
    received = tmp_path / "received" / bag.name
    bagit.Bag(str(received)).validate(fast=False)
    assert verify_bag(received) == []


def test_each_of_several_recipients_decrypts_the_same_copy(bag, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, first_public = age_identity(tmp_path / "a")
    second, second_public = ssh_identity(tmp_path / "b", "ed25519")
    out, _ = encrypt_to(bag, [first_public, second_public], tmp_path / "copy.age")
    assert age_decrypt(first, out) == age_decrypt(second, out) == tar_bytes(bag)


def test_a_single_file_such_as_an_e01_is_encrypted_as_itself(tmp_path):
    e01 = tmp_path / "disc.E01"
    e01.write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + bytes(range(256)) * 300)
    identity, public = age_identity(tmp_path)
    out, digest = encrypt_to(e01, [public], tmp_path / "disc.E01.age")
    assert age_decrypt(identity, out) == e01.read_bytes()
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()


def test_the_tar_is_in_sorted_order_with_real_mtimes_and_no_owner_and_the_same_each_time(bag):
    assert tar_bytes(bag) == tar_bytes(bag)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(bag))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == bag.name and names[1] == f"{bag.name}/bag-info.txt"
    assert names.index(f"{bag.name}/data") < names.index(f"{bag.name}/data/out.iso")
    assert [n for n in names if n.startswith(f"{bag.name}/data/")] == sorted(
        n for n in names if n.startswith(f"{bag.name}/data/"))
    image = next(m for m in members if m.name.endswith("data/out.iso"))
    assert image.mtime == int((bag / "data" / "out.iso").stat().st_mtime)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}


def test_the_ciphertext_differs_each_time_so_its_hash_names_this_copy(bag, tmp_path):
    _, public = age_identity(tmp_path)
    _, one = encrypt_to(bag, [public], tmp_path / "one.age")
    _, two = encrypt_to(bag, [public], tmp_path / "two.age")
    assert one != two


def test_what_is_not_a_public_key_is_refused_before_anything_is_written(bag, tmp_path):
    with pytest.raises(UsageError, match="is not an age or SSH public key"):
        encrypt_to(bag, ["ecdsa-sha2-nistp256 AAAA"], tmp_path / "x.age")
    with pytest.raises(UsageError, match="cannot use recipient 'age1notakey'"):
        parse_recipients(["age1notakey"])
    with pytest.raises(UsageError, match="no recipients"):
        parse_recipients([])
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused(bag, tmp_path):
    _, public = age_identity(tmp_path)
    (tmp_path / "x.age").write_bytes(b"keep")
    with pytest.raises(UsageError, match="already exists"):
        encrypt_to(bag, [public], tmp_path / "x.age")
    assert (tmp_path / "x.age").read_bytes() == b"keep"


def test_a_recipients_file_is_read_as_age_reads_one(tmp_path):
    path = tmp_path / "recipients.txt"
    path.write_text("# the lab\nage1abc\n\n  ssh-ed25519 AAAA examiner@lab  \n")
    assert read_recipients(path) == ["age1abc", "ssh-ed25519 AAAA examiner@lab"]


def test_a_tar_cut_short_leaves_no_copy_behind(tmp_path):
    import os

    directory = tmp_path / "notabag"
    directory.mkdir()
    (directory / "a.txt").write_bytes(bytes(300_000))
    os.mkfifo(directory / "b.fifo")                     # not a file: the tar stops there
    _, public = age_identity(tmp_path)
    with pytest.raises(Exception, match="not a regular file or directory"):
        encrypt_to(directory, [public], tmp_path / "copy.age")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity.age", "notabag"]


def test_a_full_disk_while_writing_the_copy_is_out_of_space_and_leaves_nothing(tmp_path, monkeypatch):
    import acquire.export.encrypt as module
    from acquire.errors import OutOfSpace

    source = tmp_path / "disc.E01"
    source.write_bytes(bytes(200_000))
    _, public = age_identity(tmp_path)

    class Full(module._HashingWriter):              # the disk fills at the first ciphertext byte
        def write(self, data):
            self.error = OSError(28, "No space left on device")
            raise self.error
    monkeypatch.setattr(module, "_HashingWriter", Full)
    with pytest.raises(OutOfSpace, match="not enough space for .*copy.age"):
        encrypt_to(source, [public], tmp_path / "copy.age")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc.E01", "identity.age"]
