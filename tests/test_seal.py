"""The signed seal: IMAGE.seal.json in canonical JSON, IMAGE.seal.json.sig in SSHSIG form (docs/seal.md).

Stock OpenSSH is the oracle: ssh-keygen makes the keys, `ssh-keygen -Y verify` and `-Y
check-novalidate` must accept what acquire signs, `ssh-keygen -lf` gives the fingerprints, and
a real ssh-agent (with ssh-add) holds the key for the agent path.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import make_disc, run_acquire, write_profile

from acquire.record import Record, chain
from acquire.seal import document, sshsig
from acquire.seal.document import merkle_root, seal_code
from acquire.verify import verify

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")


def keygen(path: Path, passphrase: str = "", comment: str = "examiner@lab") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)], check=True)
    return path


def ssh_fingerprint(pub: Path) -> str:
    return subprocess.run(["ssh-keygen", "-lf", str(pub)], check=True, capture_output=True, text=True).stdout.split()[1]


def image(tmp_path: Path, *extra, code=0, damage=(), env=None, sectors=600):
    make_disc(tmp_path / "disc.bin", sectors)
    profile = write_profile(tmp_path / "p.toml", "disc.bin", damage=list(damage))
    done = run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--json", "--case", "C-1",
                       "--examiner", "Ä. Smith", *extra, env=env, check_code=code)
    return json.loads(done.stdout)


@pytest.fixture()
def key(tmp_path) -> Path:
    return keygen(tmp_path / "id_ed25519")


@pytest.fixture()
def allowed(tmp_path, key) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f'examiner@lab namespaces="acquire-seal" {(key.with_suffix(".pub")).read_text()}')
    return path


# --- the parts, against hand-computed values ------------------------------------------------------

# SHA-256 of the single bytes 00, 01, 02 (sha256sum), and the tree over them computed with
# `xxd -r -p | sha256sum`: P = H(L0 || L1), root = H(P || L2), L2 promoted at the first level
L0 = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
L1 = "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"
L2 = "dbc1b4c900ffe48d575b5da5c638040125f65db0fe3e24494b76ea986457d986"
P01 = "30e1867424e66e8b6d159246db94e3486778136f7e386ff5f001859d6b8484ab"
ROOT3 = "773a93ac37ea78b3f14ac31872c83886b0a0f1fec562c4e848e023c889c2ce9f"


def test_merkle_root_of_three_windows_pairs_the_first_two_and_promotes_the_third():
    assert merkle_root([bytes.fromhex(x) for x in (L0, L1, L2)]) == ROOT3


def test_merkle_root_of_two_is_their_parent_of_one_is_the_leaf_of_none_is_sha256_of_nothing():
    assert merkle_root([bytes.fromhex(L0), bytes.fromhex(L1)]) == P01
    assert merkle_root([bytes.fromhex(L2)]) == L2
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_seal_code_is_the_first_20_hex_digits_of_the_sha256_in_groups_of_4():
    # sha256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ... (FIPS 180-2 B.1)
    assert seal_code(b"abc") == "ba78-16bf-8f01-cfea-4141"


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_utf8():
    assert document.canonical({"b": 1, "a": {"y": "Ä", "x": None}}) == '{"a":{"x":null,"y":"Ä"},"b":1}'.encode()


def test_fingerprint_equals_ssh_keygen_lf(key):
    from acquire.seal.signer import from_file
    assert from_file(key).fingerprint == ssh_fingerprint(key.with_suffix(".pub"))


# --- a signed run, checked by stock ssh-keygen and by acquire verify ------------------------------

def test_a_signed_run_is_accepted_by_ssh_keygen_verify_and_check_novalidate(tmp_path, key, allowed):
    out = image(tmp_path, "--sign-key", key)
    seal, sig = tmp_path / "out.iso.seal.json", tmp_path / "out.iso.seal.json.sig"
    assert (out["seal"], out["seal_signature"]) == (str(seal), str(sig))
    assert out["seal_code"] == seal_code(seal.read_bytes())
    assert out["signed_by"] == ssh_fingerprint(key.with_suffix(".pub"))
    assert sig.read_text().startswith("-----BEGIN SSH SIGNATURE-----\n")
    for args in (["-Y", "verify", "-f", str(allowed), "-I", "examiner@lab", "-n", "acquire-seal", "-s", str(sig)],
                 ["-Y", "check-novalidate", "-n", "acquire-seal", "-s", str(sig)]):
        with open(seal, "rb") as stdin:
            done = subprocess.run(["ssh-keygen", *args], stdin=stdin, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert 'Good "acquire-seal" signature' in done.stdout
    doc = json.loads(seal.read_bytes())
    assert document.canonical(doc) == seal.read_bytes()
    assert doc["image"]["hashes"] == out["hashes"] and doc["case"]["examiner"] == "Ä. Smith"
    assert doc["drive"]["serial"] == "SIM-T" and doc["medium"]["capacity"] == 600


def test_the_record_chains_seal_signed_with_fingerprint_sha256_and_code_then_seals_again(tmp_path, key):
    out = image(tmp_path, "--sign-key", key)
    record = Record.open_readonly(tmp_path / "out.iso.custody.sqlite")
    try:
        events = record.events()
        doc = json.loads((tmp_path / "out.iso.seal.json").read_bytes())
        closing = events[doc["record"]["event_count"] - 1]
        assert (closing["kind"], closing["hash"]) == ("seal", doc["record"]["chain_head"])
        assert [e["kind"] for e in events[-2:]] == ["seal-signed", "seal"]
        signed = events[-2]["details"]
        assert (signed["fingerprint"], signed["seal_code"]) == (out["signed_by"], out["seal_code"])
        assert signed["seal_sha256"] == out["seal_sha256"]
        assert record.verify() == []
    finally:
        record.close()


def test_verify_names_each_layer_and_trusts_the_key_only_when_told(tmp_path, key, allowed):
    out = image(tmp_path, "--sign-key", key)
    rec = tmp_path / "out.iso.custody.sqlite"
    plain = verify(rec, record_result=False)
    assert [c.name for c in plain.checks][:6] == ["chain", "record", "seal", "signature", "image", "provenance"]
    assert plain.ok and "NOT checked against a trusted one" in plain.checks[3].summary
    trusted = verify(rec, record_result=False, allowed_signers=allowed, identity="examiner@lab")
    assert trusted.ok and "trusted for examiner@lab" in trusted.checks[3].summary
    assert verify(rec, record_result=False, signer_fingerprint=out["signed_by"]).ok
    other = keygen(tmp_path / "other")
    assert not verify(rec, record_result=False, signer_fingerprint=ssh_fingerprint(other.with_suffix(".pub"))).ok
    stranger = tmp_path / "stranger_signers"
    stranger.write_text(f"examiner@lab {other.with_suffix('.pub').read_text()}")
    result = verify(rec, record_result=False, allowed_signers=stranger)
    assert [c.name for c in result.checks if not c.ok] == ["signature"]
    assert not verify(rec, record_result=False, allowed_signers=allowed, identity="someone@else").ok


def test_one_flipped_byte_in_the_seal_file_fails_the_seal_and_signature_layers(tmp_path, key):
    image(tmp_path, "--sign-key", key)
    seal = tmp_path / "out.iso.seal.json"
    data = bytearray(seal.read_bytes())
    at = data.index(b'"examiner":"') + len('"examiner":"')
    data[at] ^= 0x01
    seal.write_bytes(bytes(data))
    result = verify(tmp_path / "out.iso.custody.sqlite", record_result=False)
    assert {c.name for c in result.checks if not c.ok} == {"seal", "signature"}
    assert "does not verify" in next(c for c in result.checks if c.name == "signature").summary
    with open(seal, "rb") as stdin:
        assert subprocess.run(["ssh-keygen", "-Y", "check-novalidate", "-n", "acquire-seal", "-s",
                               str(seal) + ".sig"], stdin=stdin, capture_output=True).returncode != 0


def rewrite_record(path: Path, edit_sql: str) -> None:
    """What an attacker who knows docs/record.md does: edit a row, then recompute every seal that
    covers it from the tables as they are now, and every event's hash, so the chain links again."""
    conn = sqlite3.connect(path)
    conn.execute(edit_sql)
    events = conn.execute("SELECT id, time_utc, run_id, kind, details_json FROM events ORDER BY id").fetchall()
    prev = chain.GENESIS
    for id, time_utc, run_id, kind, details in events:
        if kind == chain.SEAL:
            details = chain.details_json(chain.seal_details(conn))
        hash_ = chain.event_hash(prev, id, time_utc, run_id, kind, details)
        conn.execute("UPDATE events SET details_json = ?, prev_hash = ?, hash = ? WHERE id = ?",
                     (details, prev, hash_, id))
        prev = hash_
    conn.commit()
    conn.close()


def test_a_rewritten_record_passes_its_own_check_but_fails_the_seal_and_the_signature(tmp_path, key):
    image(tmp_path, "--sign-key", key, code=3, damage=[{"kind": "unreadable", "lbas": "100-102"}])
    rec = tmp_path / "out.iso.custody.sqlite"
    rewrite_record(rec, "UPDATE damage SET sense = '01/17/00', outcome = 'marginal' "
                        "WHERE id = (SELECT min(id) FROM damage)")
    result = verify(rec, record_result=False)
    by_name = {c.name: c for c in result.checks}
    assert by_name["record"].ok                       # the rewrite fooled the chain and the table seal
    assert not by_name["seal"].ok and not by_name["signature"].ok
    assert any("record.chain_head" in line for line in by_name["seal"].details)
    assert "is not this record: it was changed after it was signed" in by_name["signature"].summary
    done = run_acquire("verify", rec, "--no-record")
    assert done.returncode == 1 and "FAIL seal:" in done.stdout and "PASS record:" in done.stdout
    assert "FAIL signature: the signature over out.iso.seal.json is valid, but what it signed is not this record" \
        in done.stdout


# --- unsigned, the agent, bad keys --------------------------------------------------------------

def test_an_unsigned_run_says_so_in_the_output_the_record_and_verify(tmp_path):
    env = {"ACQUIRE_SIGN_KEY": ""}
    out = image(tmp_path, env=env)
    assert out["signed_by"] is None and out["seal_signature"] is None and out["seal_code"]
    assert not (tmp_path / "out.iso.seal.json.sig").exists()
    with Record.open_readonly(tmp_path / "out.iso.custody.sqlite") as record:
        assert [e["kind"] for e in record.events()][-2:] == ["seal-unsigned", "seal"]
    result = verify(tmp_path / "out.iso.custody.sqlite", record_result=False)
    assert result.ok and result.checks[3].summary.startswith("unsigned")
    (tmp_path / "human").mkdir()
    make_disc(tmp_path / "human" / "disc.bin", 100)
    profile = write_profile(tmp_path / "human" / "p.toml", "disc.bin")
    done = run_acquire("image", f"sim:{profile}", tmp_path / "human" / "out.iso", env=env, check_code=0)
    assert "signed  no: unsigned (give --sign-key or set ACQUIRE_SIGN_KEY)" in done.stdout.splitlines()
    assert any(line.startswith("seal    ") and " code " in line for line in done.stdout.splitlines())


def test_acquire_sign_key_in_the_environment_signs_without_the_option(tmp_path, key):
    out = image(tmp_path, env={"ACQUIRE_SIGN_KEY": str(key)})
    assert out["signed_by"] == ssh_fingerprint(key.with_suffix(".pub"))


def test_a_passphrase_protected_key_is_refused_in_one_line_before_imaging(tmp_path):
    locked = keygen(tmp_path / "locked", passphrase="correct horse")
    make_disc(tmp_path / "disc.bin", 100)
    profile = write_profile(tmp_path / "p.toml", "disc.bin")
    done = run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--sign-key", locked, check_code=1)
    assert done.stderr == (f"acquire: the signing key {locked} is protected by a passphrase; load it into "
                           f"ssh-agent (ssh-add {locked}) and give --sign-key agent:\n")
    assert not (tmp_path / "out.iso").exists()


@pytest.fixture()
def agent(tmp_path):
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("needs ssh-agent and ssh-add")
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if sock.exists():
            break
        subprocess.run(["sleep", "0.05"])
    try:
        yield {"SSH_AUTH_SOCK": str(sock)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_the_agent_signs_with_the_key_ssh_add_gave_it(tmp_path, key, allowed, agent):
    subprocess.run(["ssh-add", "-q", str(key)], env=dict(os.environ, **agent), check=True, capture_output=True)
    fp = ssh_fingerprint(key.with_suffix(".pub"))
    for spec in ("agent:", f"agent:{fp}"):
        (tmp_path / "out.iso").unlink(missing_ok=True)
        (tmp_path / "out.iso.custody.sqlite").unlink(missing_ok=True)
        out = image(tmp_path, "--sign-key", spec, env=agent)
        assert out["signed_by"] == fp
        with open(tmp_path / "out.iso.seal.json", "rb") as stdin:
            done = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "examiner@lab", "-n",
                                   "acquire-seal", "-s", str(tmp_path / "out.iso.seal.json.sig")],
                                  stdin=stdin, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    done = run_acquire("image", "sim:none.toml", tmp_path / "x.iso", "--sign-key", "agent:SHA256:nothere",
                       env=agent, check_code=1)
    assert "holds no key with fingerprint SHA256:nothere" in done.stderr


def test_sshsig_parse_rejects_what_is_not_a_signature():
    with pytest.raises(Exception, match="not an SSH signature"):
        sshsig.parse("hello")


def test_every_report_names_the_signer_or_says_unsigned(tmp_path, key):
    from acquire.report import write_report
    out = image(tmp_path, "--sign-key", key)
    rec = tmp_path / "out.iso.custody.sqlite"
    for name in ("r.json", "r.md", "r.html", "r.xml"):
        text = write_report(rec, tmp_path / name).read_text()
        assert out["signed_by"] in text and out["seal_code"] in text, name
    (tmp_path / "u").mkdir()
    image(tmp_path / "u", env={"ACQUIRE_SIGN_KEY": ""})
    report = json.loads(write_report(tmp_path / "u" / "out.iso.custody.sqlite", tmp_path / "u.json").read_text())
    assert report["seal"]["signed"] is False and report["seal"]["summary"].startswith("unsigned")
    assert "unsigned" in write_report(tmp_path / "u" / "out.iso.custody.sqlite", tmp_path / "u.md").read_text()


@pytest.mark.parametrize("content", [b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicKeyNotPrivate x@y\n", b"\x00garbage\xff" * 10])
def test_a_sign_key_that_is_no_private_key_is_one_line_not_a_traceback(tmp_path, content):
    from conftest import make_disc, run_acquire, write_profile
    make_disc(tmp_path / "disc.iso", 50)
    profile = write_profile(tmp_path / "p.toml", "disc.iso")
    (tmp_path / "key.pub").write_bytes(content)
    done = run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--sign-key", tmp_path / "key.pub")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "not an OpenSSH private key" in done.stderr and not (tmp_path / "out.iso").exists()
