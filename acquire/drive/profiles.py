"""Every MMC-6 profile (GET CONFIGURATION's current profile) and the medium family it belongs to.

The one home of the profile -> family fact: the imaging path (ECC unit, spiral, SET CD SPEED's 1x),
the adaptive model and the reports all ask `family_of`. Profile numbers and names from MMC-6
(T10/1836-D revision 2g) 5.3.1, table 87 "Profile List"; docs/reference/mmc.md "Profiles and families".

A family is what the physics needs: "cd" (CIRC, one sector fails alone; 75 sectors/s at 1x),
"dvd" (16-sector ECC blocks, ECMA-267), "bd" (32-sector clusters, 64 KiB). HD DVD is read as a
"dvd": its 64 KiB ECC block is two DVD blocks, so 16-sector units stay aligned to it, but its
spiral (0.40 um pitch) is denser than the DVD model draws. DDCD (0.9 m/s, 1.1 um) is a "cd" for
the same reason. The layers of a dual-layer or BDXL disc follow from its capacity (see
rescue/geometry.py), not from the profile: BD-R and BD-RE profiles cover BDXL discs too.
"""
from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("cd", "dvd", "bd")
NO_PROFILE = 0x0000                  # no medium, or none the drive recognises
NON_CONFORMING = 0xFFFF


@dataclass(frozen=True, slots=True)
class Profile:
    code: int
    name: str                        # MMC-6's wording, shortened ("DVD-R SL" for "DVD-R Sequential recording")
    family: str | None               # None: not an optical disc acquire reads (hard disks, MO)
    layers: int = 1                  # the layers the profile itself implies (DL profiles: 2)


PROFILES: dict[int, Profile] = {p.code: p for p in (
    Profile(0x0001, "Non-removable disk", None),
    Profile(0x0002, "Removable disk", None),
    Profile(0x0003, "MO erasable", None),
    Profile(0x0004, "Optical write once", None),
    Profile(0x0005, "AS-MO", None),
    Profile(0x0008, "CD-ROM", "cd"),
    Profile(0x0009, "CD-R", "cd"),
    Profile(0x000A, "CD-RW", "cd"),
    Profile(0x0010, "DVD-ROM", "dvd"),
    Profile(0x0011, "DVD-R SL", "dvd"),
    Profile(0x0012, "DVD-RAM", "dvd"),
    Profile(0x0013, "DVD-RW restricted overwrite", "dvd"),
    Profile(0x0014, "DVD-RW sequential", "dvd"),
    Profile(0x0015, "DVD-R DL", "dvd", 2),
    Profile(0x0016, "DVD-R DL layer jump", "dvd", 2),
    Profile(0x0017, "DVD-RW DL", "dvd", 2),
    Profile(0x0018, "DVD-Download", "dvd"),
    Profile(0x001A, "DVD+RW", "dvd"),
    Profile(0x001B, "DVD+R", "dvd"),
    Profile(0x0020, "DDCD-ROM", "cd"),
    Profile(0x0021, "DDCD-R", "cd"),
    Profile(0x0022, "DDCD-RW", "cd"),
    Profile(0x002A, "DVD+RW DL", "dvd", 2),
    Profile(0x002B, "DVD+R DL", "dvd", 2),
    Profile(0x0040, "BD-ROM", "bd"),
    Profile(0x0041, "BD-R SRM", "bd"),
    Profile(0x0042, "BD-R RRM", "bd"),
    Profile(0x0043, "BD-RE", "bd"),
    Profile(0x0050, "HD DVD-ROM", "dvd"),
    Profile(0x0051, "HD DVD-R", "dvd"),
    Profile(0x0052, "HD DVD-RAM", "dvd"),
    Profile(0x0053, "HD DVD-RW", "dvd"),
    Profile(0x0058, "HD DVD-R DL", "dvd", 2),
    Profile(0x005A, "HD DVD-RW DL", "dvd", 2),
    Profile(NON_CONFORMING, "Non-conforming profile", None),
)}

# the error-correction unit each family fails and reads best in, in sectors: a CD sector stands
# alone (CIRC, ECMA-130), a DVD ECC block is 16 sectors (ECMA-267 18), a BD cluster 32 (64 KiB)
ECC_SECTORS = {"cd": 1, "dvd": 16, "bd": 32}

# SET CD SPEED's unit is kB/s (1000 bytes): 1x is 176.4 kB/s of CD-DA, 1,385 of DVD, 4,496 of BD
# (MMC-6 SET CD SPEED; docs/reference/mmc.md "Geometry and speeds")
KBPS_1X = {"cd": 176, "dvd": 1385, "bd": 4496}

CD_MAX_SECTORS = 405_000             # 90 minutes: more than this is not a CD
DVD_MAX_SECTORS = 2 * 2_400_000      # a DVD-9 holds 4,171,712; more is a BD


def profile_name(code: int) -> str:
    if code == NO_PROFILE:
        return "no current profile"
    known = PROFILES.get(code)
    return known.name if known else f"profile {code:04X}h"


def family_of(code: int | None) -> str | None:
    """The family of an MMC-6 profile code, or None for no profile, an unknown one, or a medium
    that is not an optical disc."""
    known = PROFILES.get(code) if code is not None else None
    return known.family if known else None


def family_from_capacity(capacity: int | None) -> str:
    """A guess for a disc whose drive named no profile: the family its capacity fits."""
    if capacity is None or capacity <= CD_MAX_SECTORS:
        return "cd"
    return "dvd" if capacity <= DVD_MAX_SECTORS else "bd"


def medium_family(code: int | None, capacity: int | None = None) -> tuple[str, bool]:
    """(family, assumed): from the profile, or guessed from the capacity (assumed=True)."""
    family = family_of(code)
    if family is not None:
        return family, False
    return family_from_capacity(capacity), True
