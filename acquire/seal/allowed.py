"""OpenSSH allowed_signers files (ssh-keygen(1) "ALLOWED SIGNERS"), read the way `ssh-keygen -Y verify` does.

    principals [options] keytype base64-key [comment]

principals: comma-separated patterns (`*`, `?`, `!negation`); options, comma-separated:
`namespaces="a,b"` (patterns the signature's namespace must match), `valid-after=` and
`valid-before=` (YYYYMMDD[HHMM[SS]], UTC with a trailing Z, local time without), and
`cert-authority` (a CA key: certificates are not supported here, so such lines never match).
Blank lines and lines starting with '#' are skipped.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import SignatureError

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


@dataclass(frozen=True, slots=True)
class Entry:
    line_no: int
    principals: str
    options: dict[str, str | None]
    key_blob: bytes


def parse(path: Path) -> list[Entry]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SignatureError(f"cannot read allowed signers {path} ({exc.strerror})") from exc
    entries = []
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = _split(line)
        if len(fields) < 3:
            raise SignatureError(f"{path} line {no}: expected principals, key type and key")
        principals, rest = fields[0], fields[1:]
        options: dict[str, str | None] = {}
        if rest[0] not in KEY_TYPES:
            options = _options(rest[0])
            rest = rest[1:]
        if len(rest) < 2 or rest[0] not in KEY_TYPES:
            raise SignatureError(f"{path} line {no}: no known key type")
        try:
            blob = base64.b64decode(rest[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureError(f"{path} line {no}: the key's base64 does not decode") from exc
        entries.append(Entry(no, principals.strip('"'), options, blob))
    return entries


def principals_for(entries: list[Entry], key_blob: bytes, namespace: str, *,
                   identity: str | None = None, now: datetime | None = None) -> list[str]:
    """The principals lines naming this key (and allowing `namespace`, now) give; with `identity`,
    only lines whose principal patterns match it, and then [identity]."""
    now = now or datetime.now(timezone.utc)
    found = []
    for e in entries:
        if e.key_blob != key_blob or "cert-authority" in e.options:
            continue
        if "namespaces" in e.options and not _match_list(namespace, e.options["namespaces"] or ""):
            continue
        if "valid-after" in e.options and now < _time(e.options["valid-after"] or ""):
            continue
        if "valid-before" in e.options and now > _time(e.options["valid-before"] or ""):
            continue
        if identity is not None:
            if _match_list(identity, e.principals):
                found.append(identity)
            continue
        found += e.principals.split(",")
    return sorted(set(found))


def _match_list(name: str, patterns: str) -> bool:
    """OpenSSH match_pattern_list: a negated match wins, else any positive one."""
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(name, pattern[1:] if negated else pattern):
            if negated:
                return False
            matched = True
    return matched


def _time(text: str) -> datetime:
    utc = text.endswith(("Z", "z"))
    digits = text.rstrip("Zz")
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    try:
        moment = datetime.strptime(digits, formats[len(digits)])
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"allowed signers: cannot read the time {text!r}") from exc
    return moment.replace(tzinfo=timezone.utc) if utc else moment.astimezone(timezone.utc)


def _split(line: str) -> list[str]:
    """Whitespace-separated fields; double quotes keep spaces and commas inside one field."""
    fields, current, quoted = [], "", False
    for ch in line:
        if ch == '"':
            quoted = not quoted
            current += ch
        elif ch.isspace() and not quoted:
            if current:
                fields.append(current)
                current = ""
        else:
            current += ch
    if current:
        fields.append(current)
    return fields


def _options(text: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    current, quoted, parts = "", False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    for part in parts:
        name, eq, value = part.partition("=")
        out[name.lower()] = value.strip('"') if eq else None
    return out
