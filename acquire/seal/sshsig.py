"""SSHSIG: OpenSSH's detached signature format (PROTOCOL.sshsig), Ed25519 only, built and checked here.

What `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks. All integers big-endian; a
`string` is a uint32 length and that many bytes (RFC 4251 5).

    the signature file, armored: "-----BEGIN SSH SIGNATURE-----", base64 in lines of 70, "-----END ..."
        byte[6]  "SSHSIG"
        uint32   version (1)
        string   public key blob          string "ssh-ed25519", string key (32 bytes)   (RFC 8709 4)
        string   namespace                "acquire-seal" for seals
        string   reserved                 empty
        string   hash algorithm           "sha512" (what we write) or "sha256"
        string   signature blob           string "ssh-ed25519", string signature (64 bytes)

    what the key signs:
        byte[6]  "SSHSIG"
        string   namespace
        string   reserved
        string   hash algorithm
        string   H(message)
"""
from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import SignatureError

MAGIC = b"SSHSIG"
VERSION = 1
ED25519 = "ssh-ed25519"
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"
ARMOR_WIDTH = 70                  # ssh-keygen's line length (sshsig.c sshsig_armor)


def string(data: bytes | str) -> bytes:
    """An SSH `string`: uint32 length, big-endian, then the bytes."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


class Reader:
    """Reads SSH wire fields in order; any short read is a SignatureError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise SignatureError("truncated SSH wire data")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def uint32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def string(self) -> bytes:
        return self.take(self.uint32())

    def done(self) -> bool:
        return self.at == len(self.data)


def ed25519_key_blob(raw_public: bytes) -> bytes:
    """The public key blob (RFC 8709 4): string "ssh-ed25519", string the 32-byte key."""
    return string(ED25519) + string(raw_public)


def fingerprint(key_blob: bytes) -> str:
    """OpenSSH's fingerprint, as `ssh-keygen -lf` prints it: SHA256: and unpadded base64 of the blob's SHA-256."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_blob).digest()).decode("ascii").rstrip("=")


def signed_data(message: bytes, namespace: str, hash_alg: str = "sha512") -> bytes:
    """The bytes the key signs over `message` (PROTOCOL.sshsig "Signed Data")."""
    return MAGIC + string(namespace) + string(b"") + string(hash_alg) + string(HASHES[hash_alg](message).digest())


def armor(key_blob: bytes, namespace: str, signature_blob: bytes, hash_alg: str = "sha512") -> str:
    """The armored signature file from its parts."""
    raw = (MAGIC + struct.pack(">I", VERSION) + string(key_blob) + string(namespace) + string(b"")
           + string(hash_alg) + string(signature_blob))
    text = base64.b64encode(raw).decode("ascii")
    lines = [text[i:i + ARMOR_WIDTH] for i in range(0, len(text), ARMOR_WIDTH)]
    return "\n".join([BEGIN, *lines, END]) + "\n"


@dataclass(frozen=True, slots=True)
class Signature:
    key_blob: bytes
    namespace: str
    hash_alg: str
    signature_blob: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)


def parse(text: str) -> Signature:
    """An armored SSHSIG file, decoded; SignatureError when it is not one."""
    body = text.strip()
    if not (body.startswith(BEGIN) and body.endswith(END)):
        raise SignatureError("not an SSH signature (no BEGIN/END SSH SIGNATURE lines)")
    try:
        raw = base64.b64decode("".join(body[len(BEGIN):-len(END)].split()), validate=True)
    except ValueError as exc:
        raise SignatureError("the SSH signature's base64 does not decode") from exc
    r = Reader(raw)
    if r.take(6) != MAGIC:
        raise SignatureError("the SSH signature does not start with SSHSIG")
    version = r.uint32()
    if version != VERSION:
        raise SignatureError(f"SSH signature version {version}, only {VERSION} is known")
    key_blob, namespace = r.string(), r.string()
    r.string()                          # reserved: empty in every signature OpenSSH makes
    hash_alg, signature_blob = r.string(), r.string()
    if not r.done():
        raise SignatureError("trailing bytes after the SSH signature")
    return Signature(key_blob, namespace.decode("utf-8", "replace"), hash_alg.decode("ascii", "replace"), signature_blob)


def verify(sig: Signature, message: bytes, namespace: str) -> None:
    """Raise SignatureError unless `sig` is a valid Ed25519 SSHSIG over `message` in `namespace`."""
    if sig.namespace != namespace:
        raise SignatureError(f"the signature is for namespace {sig.namespace!r}, not {namespace!r}")
    if sig.hash_alg not in HASHES:
        raise SignatureError(f"unknown signature hash {sig.hash_alg!r}")
    key = Reader(sig.key_blob)
    key_type, raw_key = key.string(), key.string()
    if key_type != ED25519.encode() or len(raw_key) != 32 or not key.done():
        raise SignatureError(f"the signing key is {key_type.decode('ascii', 'replace')}, only {ED25519} is supported")
    blob = Reader(sig.signature_blob)
    sig_type, raw_sig = blob.string(), blob.string()
    if sig_type != ED25519.encode() or len(raw_sig) != 64 or not blob.done():
        raise SignatureError("the signature blob is not an ssh-ed25519 signature")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, signed_data(message, namespace, sig.hash_alg))
    except InvalidSignature:
        raise SignatureError(f"the signature by {sig.fingerprint} does not verify over this file") from None
