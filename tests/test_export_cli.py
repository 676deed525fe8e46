"""`acquire export` with --bag, --encrypt-to and the space plan, through the command line; verify on a bag."""
import hashlib
import json
import shutil
import sqlite3
import subprocess
import tarfile

import pytest

from conftest import make_disc, run_acquire, write_profile

pytestmark = pytest.mark.skipif(shutil.which("age") is None or shutil.which("age-keygen") is None,
                                reason="Debian package age is not installed (apt-get install age)")


@pytest.fixture
def acquired(tmp_path):
    make_disc(tmp_path / "disc.iso", 1500)
    profile = write_profile(tmp_path / "disc.toml", "disc.iso", damage=[{"lbas": "200-215", "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--case", "C-17", "--evidence", "E-3",
                check_code=3)
    return tmp_path / "out.iso.custody.sqlite"


def test_a_bag_and_its_encrypted_copy_are_made_recorded_and_verified(acquired, tmp_path):
    identity = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = [l.split(": ")[1] for l in identity.read_text().splitlines() if l.startswith("# public key")][0]
    bag = tmp_path / "bag"
    done = run_acquire("export", acquired, "--bag", bag, "--encrypt-to", recipient, "--json", check_code=0)
    out = json.loads(done.stdout)
    assert out["bag"] == str(bag) and out["recorded"].startswith("recorded: a chained 'export' event")
    copy = out["encrypted"][0]
    age = tmp_path / "bag.tar.age"
    assert copy["path"] == str(age) and copy["sha256"] == hashlib.sha256(age.read_bytes()).hexdigest()
    with sqlite3.connect(acquired) as db:
        (details,) = db.execute("SELECT details_json FROM events WHERE kind = 'export'").fetchone()
    assert json.loads(details)["encrypted"][0]["sha256"] == copy["sha256"]     # receipt checkable without the key
    plain = subprocess.run(["age", "-d", "-i", str(identity), str(age)], check=True, capture_output=True).stdout
    (tmp_path / "x.tar").write_bytes(plain)
    with tarfile.open(tmp_path / "x.tar") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    again = next((tmp_path / "x").iterdir())
    assert run_acquire("verify", again, check_code=0).stdout.startswith("PASS bag")
    assert run_acquire("verify", bag, check_code=0).stdout.startswith("PASS bag")
    assert run_acquire("verify", acquired, "--json", check_code=0)          # the export event is sealed


def test_verify_on_a_bag_catches_one_changed_byte_in_the_image(acquired, tmp_path):
    bag = tmp_path / "bag"
    run_acquire("export", acquired, "--bag", bag, "--no-link", "--no-record", check_code=0)
    image = bag / "data" / "out.iso"
    data = bytearray(image.read_bytes())
    data[4096] ^= 1
    image.write_bytes(bytes(data))
    done = run_acquire("verify", bag, "--json", check_code=1)
    problems = json.loads(done.stdout)["problems"]
    assert any("out.iso" in p for p in problems)


def test_export_no_record_leaves_the_record_bytes_unchanged(acquired, tmp_path):
    before = hashlib.sha256(acquired.read_bytes()).hexdigest()
    run_acquire("export", acquired, "--bag", tmp_path / "bag", "--no-record", check_code=0)
    assert hashlib.sha256(acquired.read_bytes()).hexdigest() == before


def test_export_with_nothing_to_do_is_a_usage_error(acquired):
    done = run_acquire("export", acquired, "--encrypt-to", "age1xyz")
    assert done.returncode == 2 and "nothing to export" in done.stderr


def test_verify_on_a_bag_refuses_options_that_only_a_record_takes(acquired, tmp_path):
    run_acquire("export", acquired, "--bag", tmp_path / "bag", "--no-record", check_code=0)
    done = run_acquire("verify", tmp_path / "bag", "--signer-fingerprint", "SHA256:x")
    assert done.returncode == 2 and "cannot be used on a bag" in done.stderr
