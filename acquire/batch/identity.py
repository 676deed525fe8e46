"""Which disc is in the drive: its identity (volume label, creation date, capacity, profile, TOC)
read as `acquire info` reads it, and checked against what the queue says, so that a stack that
has slipped out of step (two discs picked at once, an operator's wrong disc) is caught before a
sector is imaged under the wrong catalogue ID."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..errors import AcquireError
from ..info import disc_info
from .queue import Job


@dataclass(frozen=True, slots=True)
class Identity:
    label: str | None
    created: str | None
    capacity: int
    profile: str
    toc: str

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "created": self.created, "capacity": self.capacity,
                "profile": self.profile, "toc": self.toc}

    def __str__(self) -> str:
        return (f"label {self.label if self.label is not None else '(none)'}, capacity {self.capacity}, "
                f"{self.profile}, toc {self.toc}")


class IdentityTimeout(AcquireError):
    """The drive did not answer the identity questions in time: hung."""


def toc_text(toc: list[dict]) -> str:
    """The TOC's track starts as the queue spells them: "1:0 2:5000 AA:9000"."""
    return " ".join(f"{'AA' if t['track'] == 0xAA else t['track']}:{t['start_lba']}" for t in toc)


def read_identity(device: str) -> Identity:
    info = disc_info(device)
    m = info["medium"]
    volume = m.get("volume") or {}
    label = m["volume_label"].rstrip() if m["volume_label"] is not None else None
    return Identity(label=label, created=volume.get("creation"), capacity=m["capacity"],
                    profile=m["profile_name"], toc=toc_text(m["toc"]))


def read_identity_within(device: str, timeout_s: float) -> Identity:
    """read_identity, given up after `timeout_s` (the thread of a hung drive is left blocked, as
    its process would be; the disc's acquisition never starts)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["identity"] = read_identity(device)
        except BaseException as exc:          # handed to the caller's thread as it is
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"identity {device}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise IdentityTimeout(f"{device} did not answer for {timeout_s:g} s while its disc was identified (hung)")
    if "error" in box:
        raise box["error"]
    return box["identity"]


def mismatches(job: Job, found: Identity) -> list[str]:
    """Each way the disc in the drive differs from what the queue says of `job`; empty: it is the one."""
    out = []
    for key, want in job.expects.items():
        have = getattr(found, key)
        if key == "created":
            ok = have is not None and have.startswith(str(want))
        elif key == "profile":
            ok = str(want).casefold() == str(have).casefold()
        elif key == "toc":
            ok = " ".join(str(want).upper().split()) == have.upper()
        else:
            ok = want == have
        if not ok:
            out.append(f"{key} {have!r} where the queue says {want!r}")
    return out


def which_job(found: Identity, jobs: list[Job]) -> Job | None:
    """The one job among `jobs` whose every given field matches `found`; None unless exactly one."""
    hits = [j for j in jobs if j.expects and not mismatches(j, found)]
    return hits[0] if len(hits) == 1 else None
