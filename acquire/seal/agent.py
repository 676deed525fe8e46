"""The two ssh-agent requests a seal needs, over the agent's Unix socket (draft-miller-ssh-agent).

Every message, both ways:
    uint32   length of what follows
    byte     message number
    ...      its fields (SSH wire strings, see sshsig.string)

    11 SSH2_AGENTC_REQUEST_IDENTITIES  (no fields)
    12 SSH2_AGENT_IDENTITIES_ANSWER    uint32 nkeys, then nkeys x (string key blob, string comment)
    13 SSH2_AGENTC_SIGN_REQUEST        string key blob, string data, uint32 flags (0 for Ed25519)
    14 SSH2_AGENT_SIGN_RESPONSE        string signature blob
     5 SSH_AGENT_FAILURE               (no fields): no such key, or the user refused (ssh-add -c)
"""
from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from ..errors import SigningKeyError
from .sshsig import Reader, string

SSH_AGENT_FAILURE = 5
SSH2_AGENTC_REQUEST_IDENTITIES = 11
SSH2_AGENT_IDENTITIES_ANSWER = 12
SSH2_AGENTC_SIGN_REQUEST = 13
SSH2_AGENT_SIGN_RESPONSE = 14
MAX_MESSAGE_BYTES = 256 * 1024     # OpenSSH's AGENT_MAX_LEN
TIMEOUT_S = 30.0                   # a confirm-on-use key (ssh-add -c) waits for the user


@dataclass(frozen=True, slots=True)
class Identity:
    key_blob: bytes
    comment: str


class Agent:
    """A connection to the ssh-agent at `path` (default: $SSH_AUTH_SOCK)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get("SSH_AUTH_SOCK")
        if not self.path:
            raise SigningKeyError("no ssh-agent: SSH_AUTH_SOCK is not set",
                                  hint="start one (eval $(ssh-agent)) and ssh-add the key, or give --sign-key PATH")

    def _call(self, message: bytes) -> tuple[int, Reader]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT_S)
                sock.connect(self.path)
                sock.sendall(struct.pack(">I", len(message)) + message)
                length = struct.unpack(">I", _recv(sock, 4))[0]
                if not 0 < length <= MAX_MESSAGE_BYTES:
                    raise SigningKeyError(f"the ssh-agent at {self.path} sent a {length}-byte message")
                reply = _recv(sock, length)
        except OSError as exc:
            raise SigningKeyError(f"cannot talk to the ssh-agent at {self.path} ({exc.strerror or exc})",
                                  hint="check SSH_AUTH_SOCK, or give --sign-key PATH") from exc
        return reply[0], Reader(reply[1:])

    def identities(self) -> list[Identity]:
        kind, r = self._call(bytes([SSH2_AGENTC_REQUEST_IDENTITIES]))
        if kind != SSH2_AGENT_IDENTITIES_ANSWER:
            raise SigningKeyError(f"the ssh-agent refused to list its keys (message {kind})")
        return [Identity(r.string(), r.string().decode("utf-8", "replace")) for _ in range(r.uint32())]

    def sign(self, key_blob: bytes, data: bytes) -> bytes:
        """The agent's signature blob (string type, string signature) over `data` with the key."""
        kind, r = self._call(bytes([SSH2_AGENTC_SIGN_REQUEST]) + string(key_blob) + string(data) + struct.pack(">I", 0))
        if kind != SSH2_AGENT_SIGN_RESPONSE:
            raise SigningKeyError("the ssh-agent refused to sign (the key was removed, or confirmation was denied)")
        return r.string()


def _recv(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        piece = sock.recv(n - len(out))
        if not piece:
            raise SigningKeyError("the ssh-agent closed the connection mid-answer")
        out += piece
    return bytes(out)
