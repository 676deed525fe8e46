"""A damage corpus: seeded damaged discs over the standards' physical ranges, as the simulated
drive's [[damage]] entries (docs/simulated-drive.md "The profile"), for benchmarks and tests.

It imports nothing from acquire: its spiral is its own (from the physics, not the engine's model),
so an error in the engine's geometry cannot make the corpus agree with it.

    from corpus import make_case, KINDS, FAMILIES
    case = make_case("chord", "dvd-sector", seed=3, sectors=40_000)
    case.damage_entries()       # [{"lbas": "...", "kind": "unreadable"}, {"lbas": ..., "kind": "flaky", ...}]

Geometry, per family, drawn uniformly over (sources; "assumed" where a standard gives no range):
- CD (ECMA-130 / IEC 60908, Red Book): scanning velocity 1.2-1.4 m/s, track pitch 1.6 +- 0.1 um;
  program area from 25 mm (+-0.2 mm assumed). 75 sectors/s at 1x.
- DVD (ECMA-267): track pitch 0.74 +- 0.03 um; scanning velocity 3.49 m/s single layer and 3.84 m/s
  dual layer (+-0.03 m/s, ECMA-267 table 5 gives 3.49 +- 0.03 and 3.84 +- 0.03); data zone from
  24.0 mm (+-0.2 mm assumed). 1,385,000 B/s at 1x, ECC block 16 sectors.
- BD (Blu-ray Disc Association, BD-ROM format white paper): track pitch 0.32 +- 0.003 um; channel
  bit 74.5 nm (25 GB a layer) or 69.0 nm (27 GB) at 66 Mbit/s: 4.917 or 4.554 m/s; data zone from
  24.0 mm (+-0.2 mm assumed). 4,495,500 B/s at 1x, ECC cluster 32 sectors.
A scaled disc (fewer sectors than a full one) is the inner part of a real disc: the same spiral,
ending sooner. What matters to a rescue engine is the geometry (sectors per turn, how the angle
drifts), not the capacity.

Damage, each in physical units (mm, turns) and painted sector by sector from where each sector
lies on the spiral; see the docstring of each generator for its ranges. Granularity: "sector"
(a CD; a DVD or BD drive that returns the sectors of a failed ECC block whose EDC checks out) or
"ecc" (the drive fails the whole 16- or 32-sector block). Flaky sectors fail 1-3 times, then read.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

SECTOR_RATE = {"cd": 75.0, "dvd": 1_385_000 / 2048, "bd": 4_495_500 / 2048}
ECC = {"cd": 1, "dvd": 16, "bd": 32}
PROFILE = {"cd": "cd-rom", "dvd": "dvd-rom", "bd": "bd-rom"}
FULL = {"cd": 359_844, "dvd": 2_295_104, "bd": 12_219_392}
# label -> (family, start radius mm, pitch um, velocity m/s) ranges; see the module docstring
MEDIA = {
    "cd": ("cd", (24.8, 25.2), (1.5, 1.7), (1.2, 1.4)),
    "dvd-sl": ("dvd", (23.8, 24.2), (0.71, 0.77), (3.46, 3.52)),
    "dvd-dl": ("dvd", (23.8, 24.2), (0.71, 0.77), (3.81, 3.87)),
    "bd-25": ("bd", (23.8, 24.2), (0.317, 0.323), (4.90, 4.93)),
    "bd-27": ("bd", (23.8, 24.2), (0.317, 0.323), (4.54, 4.57)),
}
# a corpus family: which media it draws from and the drive's failure granularity
FAMILIES = {
    "cd": (("cd",), "sector"),
    "dvd-ecc": (("dvd-sl", "dvd-dl"), "ecc"),
    "dvd-sector": (("dvd-sl", "dvd-dl"), "sector"),
    "bd-ecc": (("bd-25", "bd-27"), "ecc"),
    "bd-sector": (("bd-25", "bd-27"), "sector"),
}
UNREADABLE = 255                       # a state byte: 0 good, 1-3 flaky (failures), 255 unreadable


@dataclass(frozen=True)
class Disc:
    """One spiral: r(L) = sqrt(r0^2 + p.v.L/(pi.S)); revolutions N(L) = (r(L) - r0)/p."""

    medium: str
    family: str
    sectors: int
    r0_m: float
    pitch_m: float
    velocity_m_s: float

    @property
    def rate(self) -> float:
        return SECTOR_RATE[self.family]

    @property
    def area(self) -> float:           # m^2 swept per sector
        return self.pitch_m * self.velocity_m_s / (math.pi * self.rate)

    def radius(self, lba: float) -> float:
        return math.sqrt(self.r0_m ** 2 + self.area * lba)

    def revs(self, lba: float) -> float:
        return (self.radius(lba) - self.r0_m) / self.pitch_m

    def lba_at_radius(self, r: float) -> float:
        return (r * r - self.r0_m ** 2) / self.area

    @property
    def r_end(self) -> float:
        return self.radius(self.sectors)

    @property
    def a(self) -> float:             # the engine's terms (acquire/rescue/geometry.py): r0 / p
        return self.r0_m / self.pitch_m

    @property
    def b(self) -> float:             # v / (pi.S.p)
        return self.velocity_m_s / (math.pi * self.rate * self.pitch_m)


def draw_disc(medium: str, sectors: int, rng: random.Random) -> Disc:
    family, r0, pitch, v = MEDIA[medium]
    return Disc(medium, family, sectors, rng.uniform(*r0) * 1e-3, rng.uniform(*pitch) * 1e-6, rng.uniform(*v))


@dataclass
class Case:
    kind: str
    family: str                        # a FAMILIES key
    seed: int
    disc: Disc
    granularity: str                   # "sector" | "ecc"
    state: bytearray = field(repr=False, default=None)     # per sector: 0, 1-3 (flaky), 255
    note: str = ""

    @property
    def sectors(self) -> int:
        return self.disc.sectors

    @property
    def name(self) -> str:
        return f"{self.family}/{self.kind}/{self.seed}"

    @property
    def bad(self) -> set[int]:
        return {i for i, s in enumerate(self.state) if s == UNREADABLE}

    @property
    def flaky(self) -> dict[int, int]:
        return {i: s for i, s in enumerate(self.state) if 0 < s < UNREADABLE}

    @property
    def recoverable(self) -> int:
        return self.sectors - self.state.count(UNREADABLE)

    def damage_entries(self) -> list[dict]:
        """[[damage]] entries: one unreadable entry, one flaky entry per failure count."""
        out = []
        for value, extra in [(UNREADABLE, {"kind": "unreadable"})] + [(f, {"kind": "flaky", "failures": f})
                                                                     for f in (1, 2, 3)]:
            text = ranges_text(i for i, s in enumerate(self.state) if s == value)
            if text:
                out.append({"lbas": text, **extra})
        return out


def ranges_text(lbas) -> str:
    out: list[list[int]] = []
    for lba in lbas:
        if out and out[-1][1] == lba - 1:
            out[-1][1] = lba
        else:
            out.append([lba, lba])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in out)


# -- painting: every sector in a band of radii, tested against a shape at its (r, angle) --------
class Painter:
    def __init__(self, disc: Disc, state: bytearray, rng: random.Random) -> None:
        self.disc, self.state, self.rng = disc, state, rng
        # radial extents (a smudge's, edge rot's) scale with the data band of a scaled disc, so that
        # damage covers the same share of its radii as on a full one; angular ones stay physical
        full = Disc(disc.medium, disc.family, FULL[disc.family], disc.r0_m, disc.pitch_m, disc.velocity_m_s)
        self.k = min(1.0, (disc.r_end - disc.r0_m) / (full.r_end - disc.r0_m))

    def band(self, r_lo: float, r_hi: float):
        """(lba, radius, angle in turns, angular span in turns) of each sector between two radii."""
        d = self.disc
        lo = max(0, math.floor(d.lba_at_radius(max(r_lo, d.r0_m))))
        hi = min(d.sectors, math.ceil(d.lba_at_radius(max(r_hi, d.r0_m))) + 1)
        for lba in range(lo, hi):
            r = d.radius(lba + 0.5)
            n = d.revs(lba)
            yield lba, r, n, d.revs(lba + 1) - n

    def mark(self, lba: int, value: int) -> None:
        """Unreadable overrides flaky; flaky keeps the larger failure count."""
        s = self.state[lba]
        if value == UNREADABLE or (s != UNREADABLE and value > s):
            self.state[lba] = value

    def flaky_value(self) -> int:
        return self.rng.choice((1, 1, 2, 3))


def _adiff(x: float, c: float) -> float:
    """Distance of angle x from c, in turns, in [0, 0.5]."""
    d = (x - c) % 1.0
    return min(d, 1.0 - d)


def line_scratch(p: Painter, r1: float, r2: float, centre, half_width_m, *, gaps=(), edge_flaky=0.1) -> None:
    """A scratch crossing radii r1..r2: at radius r its centre is at angle centre(r, turn) (turns)
    and it is half_width_m(r, turn) wide either side (perpendicular to the track). A sector
    touching it is unreadable; a sector just beside it (within one sector) flaky with
    probability edge_flaky (10 %). `gaps`: radius intervals where the scratch is interrupted."""
    rng = p.rng
    for lba, r, n, span in p.band(r1, r2):
        if any(g0 <= r < g1 for g0, g1 in gaps):
            continue
        turn = int(n)
        c = centre(r, turn)
        h = half_width_m(r, turn) / (2 * math.pi * r)
        dist = _adiff(n + span / 2, c) - span / 2            # from the sector's nearer edge
        if dist <= h:
            p.mark(lba, UNREADABLE)
        elif dist <= h + span and rng.random() < edge_flaky:
            p.mark(lba, p.flaky_value())


def _walk(rng: random.Random, n: int, step: float, limit: float) -> list[float]:
    """A bounded random walk of n steps: per-turn jitter that is correlated from turn to turn."""
    x, out = 0.0, []
    for _ in range(n):
        x = max(-limit, min(limit, x + rng.gauss(0, step)))
        out.append(x)
    return out


def _span_radii(p: Painter, lo: float, hi: float) -> tuple[float, float]:
    """Fractions lo..hi of the disc's radii, drawn at random within them."""
    d, rng = p.disc, p.rng
    a = rng.uniform(lo, hi)
    b = rng.uniform(a, hi)
    r = lambda f: d.r0_m + f * (d.r_end - d.r0_m)   # noqa: E731
    if b - a < 0.1:
        b = min(1.0, a + 0.1)
    return r(a), r(b)


# -- the generators: each paints its damage on the case's state ---------------------------------
def radial(p: Painter, *, jitter: bool = True) -> str:
    """A radial scratch 0.1-1.0 mm wide (a fingernail to a key), over 10-80 % of the radii, its
    angle jittering by up to +-0.3 of its width from turn to turn."""
    rng = p.rng
    r1, r2 = _span_radii(p, 0.0, 0.9)
    w = rng.uniform(0.1, 1.0) * 1e-3
    theta = rng.random()
    turns = int(p.disc.revs(p.disc.sectors)) + 2
    walk = _walk(rng, turns, 0.05, 0.3) if jitter else [0.0] * turns
    line_scratch(p, r1, r2, lambda r, t: theta + walk[t] * w / (2 * math.pi * r), lambda r, t: w / 2)
    return f"radial {w * 1e3:.2f} mm, {r1 * 1e3:.1f}-{r2 * 1e3:.1f} mm"


def chord(p: Painter) -> str:
    """A straight wipe that misses the centre by 5-40 mm (a chord): its angle drifts with the
    radius as asin(d/r) (a 20 mm offset moves it a tenth of a turn from 25 to 58 mm); 0.1-0.6 mm."""
    rng = p.rng
    r1, r2 = _span_radii(p, 0.0, 0.9)
    d = min(rng.uniform(5, 40) * 1e-3, 0.95 * r1)
    w = rng.uniform(0.1, 0.6) * 1e-3
    phi = rng.random()
    sign = rng.choice((-1, 1))
    line_scratch(p, r1, r2, lambda r, t: phi + sign * math.acos(min(1.0, d / r)) / (2 * math.pi),
                 lambda r, t: w / 2 / math.sqrt(max(1e-3, 1 - (d / r) ** 2)))
    return f"chord offset {d * 1e3:.1f} mm, {w * 1e3:.2f} mm, {r1 * 1e3:.1f}-{r2 * 1e3:.1f} mm"


def curved(p: Painter) -> str:
    """A curved, interrupted scratch: its angle bends with the radius (up to a fifth of a turn
    over the span, quadratic), per-turn jitter, width varying 0.5-1.5x along it, and 1-4 gaps
    (the stylus lifted) over up to 30 % of its length."""
    rng = p.rng
    r1, r2 = _span_radii(p, 0.0, 0.9)
    w0 = rng.uniform(0.1, 0.8) * 1e-3
    theta, bend, drift = rng.random(), rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.1)
    span = r2 - r1
    turns = int(p.disc.revs(p.disc.sectors)) + 2
    walk = _walk(rng, turns, 0.08, 0.5)
    widths = [max(0.3, 1 + x) for x in _walk(rng, turns, 0.05, 0.5)]
    gaps = []
    for _ in range(rng.randint(1, 4)):
        g0 = rng.uniform(r1, r2)
        gaps.append((g0, g0 + rng.uniform(0.02, 0.075) * span))
    line_scratch(p, r1, r2,
                 lambda r, t: theta + drift * (r - r1) / span + bend * ((r - r1) / span) ** 2
                 + walk[t] * w0 / (2 * math.pi * r),
                 lambda r, t: w0 * widths[t] / 2, gaps=gaps)
    return f"curved {w0 * 1e3:.2f} mm, bend {bend:+.2f} turn, {len(gaps)} gaps"


def circumferential(p: Painter) -> str:
    """1-3 circumferential scratches or rings (a disc dragged in a tray, a drive's rub ring):
    30-360 degrees of a circle, 3-20 um wide radially (a few turns of a CD, more on DVD/BD),
    with 0-2 um of wobble (eccentricity)."""
    rng, d = p.rng, p.disc
    out = []
    for _ in range(rng.randint(1, 3)):
        rc = rng.uniform(d.r0_m, d.r_end)
        hw = rng.uniform(3, 20) * 1e-6 / 2
        wob = rng.uniform(0, 2) * 1e-6
        start, extent = rng.random(), rng.uniform(30, 360) / 360
        phase = rng.random()
        for lba, r, n, span in p.band(rc - hw - wob, rc + hw + wob):
            ang = n % 1.0
            if (ang - start) % 1.0 > extent:
                continue
            if abs(r - rc - wob * math.sin(2 * math.pi * (ang + phase))) <= hw:
                p.mark(lba, UNREADABLE)
            elif abs(r - rc) <= hw + d.pitch_m and rng.random() < 0.1:
                p.mark(lba, p.flaky_value())
        out.append(f"{extent * 360:.0f} deg at {rc * 1e3:.1f} mm")
    return "circumferential " + ", ".join(out)


def smudge(p: Painter) -> str:
    """A fingerprint or smudge: 1-4 overlapping oval blobs of 2-8 mm at one place; inside the
    core 80 % of sectors unreadable and 20 % flaky, in a 0.3-1.5 mm margin around it 30 % flaky
    (the issue's "20 % of core blocks and 30 % of margin blocks flaky")."""
    rng, d, k = p.rng, p.disc, p.k
    rc = rng.uniform(d.r0_m, d.r_end)
    ac = rng.random()
    blobs = []                        # (radius, angle in turns, size, aspect: radial/angular)
    for _ in range(rng.randint(1, 4)):
        blobs.append((rc + rng.uniform(-3, 3) * 1e-3 * k, ac + rng.uniform(-3, 3) * 1e-3 / (2 * math.pi * rc),
                      rng.uniform(1, 4) * 1e-3, rng.uniform(0.5, 1.5)))
    margin = rng.uniform(0.3, 1.5) * 1e-3
    reach = max(br + s * asp * k for br, _, s, asp in blobs) + margin * k
    inner = min(br - s * asp * k for br, _, s, asp in blobs) - margin * k
    for lba, r, n, span in p.band(inner, reach):
        ang = n + span / 2
        # an oval in (radial / k, along the track), its radial extent scaled with the band
        depth = min(math.hypot((r - br) / (asp * k), _adiff(ang, ba) * 2 * math.pi * r) - s
                    for br, ba, s, asp in blobs)
        if depth <= 0:
            p.mark(lba, UNREADABLE if rng.random() < 0.8 else p.flaky_value())
        elif depth <= margin and rng.random() < 0.3:
            p.mark(lba, p.flaky_value())
    return f"smudge {len(blobs)} blobs at {rc * 1e3:.1f} mm, margin {margin * 1e3:.1f} mm"


def edge_rot(p: Painter) -> str:
    """Edge rot / dye fade from the outer edge inwards: everything beyond a radius that wanders
    with the angle (a few harmonics, 0.05-0.3 % of a full disc's data band deep) with a ragged,
    sector-scale edge; a band of flaky sectors inside it; on half the discs 1-3 fade patches
    (blobs of 1-3 mm) reaching in from the edge."""
    rng, d = p.rng, p.disc
    band = d.r_end - d.r0_m
    depth = rng.uniform(0.01, 0.06) * band
    harmonics = [(k, rng.uniform(0, 1) / k, rng.random()) for k in range(1, 6)]
    norm = sum(h for _, h, _ in harmonics)
    fuzz = rng.uniform(0.0, 0.2) * depth
    flaky_band = rng.uniform(0.05, 0.3) * depth
    patches = [(rng.random(), rng.uniform(1, 3) * 1e-3) for _ in range(rng.choice((0, 0, 1, 2, 3)))]
    k = p.k

    def edge(ang: float) -> float:
        wave = sum(h * (1 + math.sin(2 * math.pi * (k * ang + ph))) / 2 for k, h, ph in harmonics) / norm
        return d.r_end - depth * (0.2 + 0.8 * wave)

    lowest = d.r_end - depth - fuzz - flaky_band - max((s * k for _, s in patches), default=0)
    for lba, r, n, span in p.band(lowest, d.r_end + 1):
        ang = n % 1.0
        e = edge(ang) + rng.uniform(-fuzz, fuzz)
        for pa, s in patches:
            da = _adiff(ang, pa) * 2 * math.pi * r
            if da < s:
                e = min(e, d.r_end - depth - s * k * math.sqrt(1 - (da / s) ** 2))
        if r >= e:
            p.mark(lba, UNREADABLE)
        elif r >= e - flaky_band and rng.random() < 0.3:
            p.mark(lba, p.flaky_value())
    return f"edge rot {depth * 1e3:.2f} mm deep, {len(patches)} patches"


def scattered(p: Painter) -> str:
    """50-400 scattered failing spots (pinholes, dust, dye specks), one sector each (ECC drives
    then lose the block), 20 % of them flaky instead."""
    rng, d = p.rng, p.disc
    n = rng.randint(50, 400)
    for _ in range(n):
        lba = rng.randrange(d.sectors)
        p.mark(lba, UNREADABLE if rng.random() < 0.8 else p.flaky_value())
    return f"scattered {n} spots"


def several(p: Painter) -> str:
    """2-4 of the scratches above on one disc, plus scattered spots on half of them."""
    rng = p.rng
    kinds = [rng.choice((radial, chord, curved, circumferential)) for _ in range(rng.randint(2, 4))]
    notes = [k(p) for k in kinds]
    if rng.random() < 0.5:
        notes.append(scattered(p))
    return "; ".join(notes)


KINDS = {"radial": radial, "chord": chord, "curved": curved, "circumferential": circumferential,
         "smudge": smudge, "edge-rot": edge_rot, "scattered": scattered, "several": several}


def isolated_flaky(p: Painter, n: int) -> None:
    """n flaky sectors away from everything else (64 sectors clear)."""
    rng, st = p.rng, p.state
    for _ in range(n * 20):
        if n <= 0:
            return
        lba = rng.randrange(len(st))
        if not any(st[max(0, lba - 64):lba + 64]):
            st[lba] = p.flaky_value()
            n -= 1


def to_ecc(state: bytearray, unit: int) -> bytearray:
    """A drive that fails whole ECC blocks: a block with an unreadable sector is unreadable,
    one with a flaky sector (and none unreadable) flaky, with its largest failure count."""
    out = bytearray(len(state))
    for u in range(0, len(state), unit):
        block = state[u:u + unit]
        worst = max(block)
        out[u:u + len(block)] = bytes([worst]) * len(block)
    return out


def make_case(kind: str, family: str, seed: int, sectors: int | None = None, *, scale: int = 1) -> Case:
    """One seeded damaged disc. `sectors` (or a full disc / `scale`) sets the capacity."""
    media, granularity = FAMILIES[family]
    rng = random.Random(f"corpus-{kind}-{family}-{seed}")
    medium = rng.choice(media)
    fam = MEDIA[medium][0]
    disc = draw_disc(medium, sectors or FULL[fam] // scale, rng)
    state = bytearray(disc.sectors)
    painter = Painter(disc, state, rng)
    note = KINDS[kind](painter)
    isolated_flaky(painter, rng.randint(2, 6))
    if granularity == "ecc" and ECC[fam] > 1:
        state = to_ecc(state, ECC[fam])
    return Case(kind, family, seed, disc, granularity, state, f"{medium}: {note}")
