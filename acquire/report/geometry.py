"""Where a sector sits on the disc: radius and angle on the spiral (reference/mmc.md, "Geometry and speeds").

The area swept from the start radius r0 to radius r equals track pitch x track length, so

    r(j) = sqrt(r0^2 + a.j),   a = p.v / (pi.S)      (mm^2 per sector)

for the j-th sector of a layer, with p the pitch, v the 1x linear velocity and S the 1x sectors per
second. The spiral gains one pitch per revolution, so the revolutions from the start are
(r - r0) / p, and the sector's angle is the fractional part of that count. A radial scratch hits
one short burst per revolution: the same angle at every radius.

Only relative angles mean anything: where the spiral starts on the real disc is unknown, and a
real disc's v and p differ from the nominal ones by a few percent, so over thousands of
revolutions a real scratch may drift into a gentle curve. The picture is a nominal model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

R_MAX_MM = 58.0          # outer edge of the data area, CD, DVD and BD alike
DISC_RADIUS_MM = 60.0    # a 120 mm disc
HUB_RADIUS_MM = 7.5      # the centre hole (15 mm)
LAYER_SLACK = 1.1        # a pressed layer holds up to ~10% more than the nominal figures give (DVD-5: 2,295,104)
BDXL_LAYER_SECTORS = 16_320_000   # 33.4 GB: BDXL layers are denser than BD's 25 GB

# family -> (start radius mm, track pitch mm, 1x linear velocity mm/s, 1x sectors per second)
# reference/mmc.md: CD 25 mm, 1.6 um, 1.2-1.4 m/s (1.3 gives its "about 9 at 25 mm and 21 at
# 58 mm" sectors per revolution), 75 sectors/s; DVD 24 mm, 0.74 um, 3.49 m/s, 1,385,000 B/s;
# BD 24 mm, 0.32 um, 4.92 m/s, 4,495,500 B/s.
NOMINAL: dict[str, tuple[float, float, float, float]] = {
    "CD": (25.0, 1.6e-3, 1300.0, 75.0),
    "DVD": (24.0, 0.74e-3, 3490.0, 1_385_000 / 2048),
    "BD": (24.0, 0.32e-3, 4920.0, 4_495_500 / 2048),
}


def family_of(profile: int | None, profile_name: str | None = None, capacity: int | None = None) -> tuple[str, bool]:
    """The medium family ("CD", "DVD", "BD") from the MMC current profile; True when it is a guess."""
    if profile is not None:
        if 0x08 <= profile <= 0x0F:
            return "CD", False
        if 0x10 <= profile <= 0x3F or 0x50 <= profile <= 0x5F:   # DVD, and HD DVD (a DVD-sized spiral)
            return "DVD", profile >= 0x50
        if 0x40 <= profile <= 0x4F:
            return "BD", False
    name = (profile_name or "").upper()
    for family in ("CD", "DVD", "BD"):
        if name.startswith(family):
            return family, False
    # no profile: guess from the size (a CD holds at most ~405,000 sectors, 90 minutes)
    if capacity is None or capacity <= 405_000:
        return "CD", True
    return ("DVD", True) if capacity <= 2 * 2_400_000 else ("BD", True)


@dataclass(frozen=True, slots=True)
class Geometry:
    family: str
    assumed: bool                 # the family was guessed, not read from the profile
    r0_mm: float
    pitch_mm: float
    velocity_mm_s: float          # after any scaling to fit the capacity (see for_medium)
    sectors_per_s: float
    capacity: int
    layers: int
    layer_sectors: int            # sectors per layer (the last may hold fewer)
    area_mm2: float               # a: mm^2 swept per sector

    @classmethod
    def for_medium(cls, family: str, capacity: int, *, assumed: bool = False) -> Geometry:
        """The nominal spiral of `family` holding `capacity` sectors.

        A capacity beyond one nominal layer means more layers (DVD-9, BD-50/100) or, on a CD, a
        longer disc (80 minutes: slower v). Layers are split evenly and each is squeezed to fill
        r0..58 mm by lowering v; the pitch, and so the revolutions per mm, stays nominal."""
        r0, pitch, velocity, rate = NOMINAL[family]
        area = pitch * velocity / (math.pi * rate)
        nominal_layer = int((R_MAX_MM ** 2 - r0 ** 2) / area)
        capacity = max(int(capacity), 1)
        layers = 1 if family == "CD" else max(1, math.ceil(capacity / (nominal_layer * LAYER_SLACK)))
        if family == "BD" and layers > 2:      # BDXL: 33.4 GB (16.3 M sectors) a layer, 3 or 4 layers
            layers = math.ceil(capacity / BDXL_LAYER_SECTORS)
        layer_sectors = math.ceil(capacity / layers)
        if layer_sectors > nominal_layer:
            area = (R_MAX_MM ** 2 - r0 ** 2) / layer_sectors
            velocity = area * math.pi * rate / pitch
        return cls(family, assumed, r0, pitch, velocity, rate, capacity, layers, layer_sectors, area)

    # -- where a sector is -----------------------------------------------------------------------
    def layer_position(self, lba: float) -> tuple[int, float]:
        """(layer, j): j counts sectors from the inner start radius. Odd layers run back from the
        outside (opposite track path, as DVD-9 and BD-50 do), so their j counts down."""
        layer = min(int(lba // self.layer_sectors), self.layers - 1)
        j = lba - layer * self.layer_sectors
        if layer % 2:
            j = self.layer_sectors - j
        return layer, j

    def radius_mm(self, j: float) -> float:
        """The radius of position j (sectors from the layer's inner start)."""
        return math.sqrt(self.r0_mm ** 2 + self.area_mm2 * max(j, 0.0))

    def turns(self, j: float) -> float:
        """Revolutions from the start radius to position j."""
        return (self.radius_mm(j) - self.r0_mm) / self.pitch_mm

    def j_at_turns(self, turns: float) -> float:
        """The inverse of turns(): the position (in sectors, fractional) `turns` revolutions out."""
        r = self.r0_mm + turns * self.pitch_mm
        return (r * r - self.r0_mm ** 2) / self.area_mm2

    def angle(self, lba: float) -> float:
        """The angle of `lba` as a fraction of a revolution, 0 <= angle < 1."""
        return self.turns(self.layer_position(lba)[1]) % 1.0

    def sectors_per_turn(self, radius_mm: float) -> float:
        return 2 * math.pi * radius_mm * self.sectors_per_s / self.velocity_mm_s

    @property
    def outer_radius_mm(self) -> float:
        """Where the data ends (the first layer's outermost sector)."""
        return self.radius_mm(min(self.capacity, self.layer_sectors))

    def as_dict(self) -> dict:
        out = asdict(self)
        out["outer_radius_mm"] = self.outer_radius_mm
        out["total_turns"] = self.turns(min(self.capacity, self.layer_sectors))
        return out
