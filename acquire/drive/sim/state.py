"""What the simulated drive remembers between commands: one dataclass that answers.py and reads.py
take as their first argument (target.py owns it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .layout import SimLayout
from .profile import DamageMap, Profile
from .quirks import Quirks

PAGE_ERROR_RECOVERY = 0x01
# page 01h as the drive powers up: read retry count 32, no flags (docs/reference/mmc.md)
ERROR_RECOVERY_DEFAULT = bytes([PAGE_ERROR_RECOVERY, 0x0A, 0x00, 32, 0, 0, 0, 0, 0, 0, 0, 0])


def _no_trace(line: str) -> None:
    pass


@dataclass(eq=False)
class DriveState:
    profile: Profile
    true_bytes: Callable[[int, int], bytes]   # (lba, count) -> the disc's user data
    log: Callable[[str], None] = _no_trace     # one trace line (docs/simulated-drive.md "The trace")
    speed_x: float = 0.0                      # current read speed; 0: the profile's top speed
    prevent: bool = False                     # PREVENT ALLOW MEDIUM REMOVAL
    media_event: bool = False                 # a media-changed event not yet reported
    last_sense: bytes = b""                   # what REQUEST SENSE returns
    error_recovery: bytearray = field(default_factory=lambda: bytearray(ERROR_RECOVERY_DEFAULT))
    head: int | None = 0                      # None: unknown, after a failed READ
    flaky_attempts: dict[int, int] = field(default_factory=dict)
    unstable_reads: int = 0                   # makes each unstable read's bytes unique
    raw_audio: Callable[[int, int], bytes] | None = None   # (lba, count) -> 2352-byte CD-DA sectors
    damage: DamageMap = field(init=False)
    layout: SimLayout = field(init=False)

    def __post_init__(self) -> None:
        self.damage = DamageMap(self.profile.damage_here)
        self.layout = SimLayout(self.profile)
        if not self.speed_x:
            self.speed_x = float(self.profile.speed_x)

    @property
    def capacity(self) -> int:
        """What READ CAPACITY reports."""
        return self.profile.capacity

    @property
    def end(self) -> int:
        """The first LBA a READ may not name (05/21/00): past the capacity when it lies."""
        return self.profile.addressable

    @property
    def family(self) -> str:
        return self.profile.family

    @property
    def quirks(self) -> Quirks:
        return self.profile.quirks

    def tracks(self) -> list[tuple[int, int, int, str]]:
        """(number, first LBA, end LBA exclusive, mode) of every track; one mode 1 track without [[track]]."""
        return [(s.number, s.start, s.end, s.mode) for s in self.layout.spans]
