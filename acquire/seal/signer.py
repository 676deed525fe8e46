"""Who signs a seal: an unencrypted OpenSSH Ed25519 key file, or a key held by ssh-agent.

    --sign-key PATH                  an OpenSSH private key file (ssh-keygen -t ed25519), no passphrase
    --sign-key agent:                the agent's first Ed25519 key
    --sign-key agent:SHA256:...      the agent's key with that fingerprint (ssh-add -l shows them)
    ACQUIRE_SIGN_KEY                 the same, when --sign-key is not given

A passphrase-protected file is refused in one line: acquire never prompts (it may run unattended
for hours), and ssh-agent is the place for a key that needs unlocking.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import SigningKeyError
from . import sshsig
from .agent import Agent

ENV = "ACQUIRE_SIGN_KEY"
AGENT_PREFIX = "agent:"
NAMESPACE = "acquire-seal"
HASH_ALG = "sha512"


@dataclass(frozen=True)
class Signer:
    key_blob: bytes
    source: str                                   # "file PATH" or "ssh-agent"
    _sign: Callable[[bytes], bytes]               # signed data -> signature blob

    @property
    def fingerprint(self) -> str:
        return sshsig.fingerprint(self.key_blob)

    def sign(self, message: bytes, namespace: str = NAMESPACE) -> str:
        """The armored SSHSIG signature of `message`."""
        blob = self._sign(sshsig.signed_data(message, namespace, HASH_ALG))
        return sshsig.armor(self.key_blob, namespace, blob, HASH_ALG)


def resolve(spec: str | None) -> Signer | None:
    """The signer `spec` (from --sign-key) names, else ACQUIRE_SIGN_KEY's; None: unsigned."""
    spec = spec if spec is not None else os.environ.get(ENV)
    if not spec:
        return None
    if spec.startswith(AGENT_PREFIX):
        return from_agent(spec[len(AGENT_PREFIX):] or None)
    return from_file(Path(spec))


def from_file(path: Path) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing key {path} ({exc.strerror})") from exc
    try:
        key = serialization.load_ssh_private_key(data, password=None)
    except TypeError as exc:      # cryptography: "Password was not given but private key is encrypted"
        raise SigningKeyError(f"the signing key {path} is protected by a passphrase",
                              hint=f"load it into ssh-agent (ssh-add {path}) and give --sign-key agent:") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{path} is not an OpenSSH private key ({exc})",
                              hint="make one with ssh-keygen -t ed25519") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"the signing key {path} is {type(key).__name__}, only Ed25519 is supported",
                              hint="make one with ssh-keygen -t ed25519")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Signer(sshsig.ed25519_key_blob(raw), f"file {path}",
                  lambda data: sshsig.string(sshsig.ED25519) + sshsig.string(key.sign(data)))


def from_agent(fingerprint: str | None) -> Signer:
    agent = Agent()
    keys = [k for k in agent.identities() if sshsig.Reader(k.key_blob).string() == sshsig.ED25519.encode()]
    if fingerprint is not None:
        keys = [k for k in keys if sshsig.fingerprint(k.key_blob) == fingerprint]
    if not keys:
        which = f"with fingerprint {fingerprint}" if fingerprint else "of type ssh-ed25519"
        raise SigningKeyError(f"the ssh-agent at {agent.path} holds no key {which}",
                              hint="ssh-add the key (ssh-add -l lists what it holds)")
    blob = keys[0].key_blob
    return Signer(blob, "ssh-agent", lambda data: agent.sign(blob, data))
