"""Where an LBA lies on the disc: radius and angle on the spiral, the layers of a disc, and the
spiral fitted from damage. The one spiral model: the adaptive engine predicts with it and the
reports draw with it.

The spiral (docs/reference/mmc.md "Geometry and speeds"): the area swept from the start radius r0 to r
is pitch x length, so r(L) = sqrt(r0^2 + p.v.L / (pi.S)) with p the track pitch, v the 1x linear
velocity and S the 1x sectors per second. In units of the pitch, with a = r0/p and b = v/(pi.S.p),
the revolutions from the start are

    N(L) = (r(L) - r0) / p = sqrt(a^2 + b.L) - a,        angle(L) = frac(N(L)).

Only a and b are visible from where damage falls (an angle does not tell p from r0/p), so the fit
reports r0 and p.v with the pitch held at its nominal value, as the issue asks.

The fit. A radial scratch fails the sector at the same angle on every revolution. Number a chain of
such failures by revolution m (consecutive members are a whole number of turns apart); then
(m + c)^2 = a^2 + b.x for its LBAs x, so x = A.m^2 + B.m + C is a quadratic in m: linear least
squares (errors in x, where the failure was seen), then b = 1/A, c = B.b/2, a^2 = c^2 - C.b. Chains are found with the current estimate (nominal at first), and the fit is
repeated, so that a disc several percent off nominal converges in a few rounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# family (acquire.drive.profiles) -> (start radius m, track pitch m, 1x linear velocity m/s,
# 1x sectors/s); docs/reference/mmc.md "Geometry and speeds": CD 25 mm, 1.6 um, 1.2-1.4 m/s (1.3
# gives its "about 9 at 25 mm and 21 at 58 mm" sectors per revolution), 75 sectors/s (ECMA-130);
# DVD 24 mm, 0.74 um, 3.49 m/s, 1,385,000 B/s (ECMA-267); BD 24 mm, 0.32 um, 4.92 m/s, 4,495,500 B/s.
NOMINAL: dict[str, tuple[float, float, float, float]] = {
    "cd": (25e-3, 1.6e-6, 1.3, 75.0),
    "dvd": (24e-3, 0.74e-6, 3.49, 1_385_000 / 2048),
    "bd": (24e-3, 0.32e-6, 4.92, 4_495_500 / 2048),
}
R_MAX_M = 58e-3          # outer edge of the data area, CD, DVD and BD alike
DISC_RADIUS_MM = 60.0    # a 120 mm disc
HUB_RADIUS_MM = 7.5      # the centre hole (15 mm)
LAYER_SLACK = 1.1        # a pressed layer holds up to ~10% more than the nominal figures give (DVD-5: 2,295,104)
BDXL_LAYER_SECTORS = 16_320_000   # 33.4 GB: BDXL layers are denser than BD's 25 GB


@dataclass(frozen=True, slots=True)
class Geometry:
    """The spiral in pitch units: N(L) = sqrt(a^2 + b.L) - a revolutions from the first sector."""

    a: float                       # start radius / pitch
    b: float                       # linear velocity / (pi x sectors per second x pitch)
    family: str = "cd"

    @classmethod
    def nominal(cls, family: str) -> Geometry:
        r0, p, v, s = NOMINAL[family]
        return cls(r0 / p, v / (math.pi * s * p), family)

    @classmethod
    def from_physical(cls, family: str, r0_m: float, pv_m2_s: float) -> Geometry:
        """From a start radius and pitch x velocity, the pitch taken as nominal."""
        _, p, _, s = NOMINAL[family]
        return cls(r0_m / p, pv_m2_s / (math.pi * s * p * p), family)

    @classmethod
    def from_structure(cls, family: str, *, r0_m: float | None = None, pitch_m: float | None = None,
                       velocity_m_s: float | None = None) -> Geometry:
        """From what a disc says of itself (DVD PFI: track density and linear density; BD disc
        information), each value nominal when not given. The angles see only r0/p and v/p."""
        n_r0, n_p, n_v, s = NOMINAL[family]
        p = pitch_m or n_p
        return cls((r0_m or n_r0) / p, (velocity_m_s or n_v) / (math.pi * s * p), family)

    # -- the physical view ------------------------------------------------------------------
    @property
    def pitch_m(self) -> float:
        return NOMINAL[self.family][1]

    @property
    def r0_m(self) -> float:
        return self.a * self.pitch_m

    @property
    def pv_m2_s(self) -> float:
        """Track pitch x linear velocity (m^2/s), with the pitch nominal."""
        p, s = self.pitch_m, NOMINAL[self.family][3]
        return self.b * math.pi * s * p * p

    def radius_m(self, lba: float) -> float:
        return (self.revs(lba) + self.a) * self.pitch_m

    # -- the spiral ---------------------------------------------------------------------------
    def revs(self, lba: float) -> float:
        """Revolutions from LBA 0 to the start of `lba` (fractional)."""
        return math.sqrt(self.a * self.a + self.b * lba) - self.a

    def angle(self, lba: float) -> float:
        """Where `lba` starts, as a fraction of a turn in [0, 1)."""
        return self.revs(lba) % 1.0

    def lba_at(self, revs: float) -> float:
        """The (fractional) LBA at `revs` revolutions: the inverse of revs()."""
        x = revs + self.a
        return (x * x - self.a * self.a) / self.b

    def sectors_per_rev(self, lba: float) -> float:
        return 2.0 * (self.revs(lba) + self.a) / self.b

    def same_angle(self, lba: float, turns: int) -> float:
        """The (fractional) LBA at the same angle `turns` revolutions away (negative: inwards)."""
        return self.lba_at(self.revs(lba) + turns)


@dataclass(frozen=True, slots=True)
class DiscLayout:
    """A whole disc: its layers, each a nominal spiral (Geometry) squeezed to hold its share.

    A capacity beyond one nominal layer means more layers (DVD-9, BD-50/100, BDXL) or, on a CD, a
    longer disc (80 minutes: slower v). Layers are split evenly and each fills r0..58 mm by lowering
    v; the pitch, and so the revolutions per mm, stays nominal. Odd layers run back from the outside
    (opposite track path, as DVD-9 and BD-50 do). Only relative angles mean anything: where the
    spiral starts on the real disc is unknown."""

    family: str
    assumed: bool                 # the family was guessed from the capacity, not read from the profile
    capacity: int
    layers: int
    layer_sectors: int            # sectors per layer (the last may hold fewer)
    spiral: Geometry

    @classmethod
    def for_medium(cls, family: str, capacity: int, *, assumed: bool = False) -> DiscLayout:
        r0, pitch, velocity, rate = NOMINAL[family]
        nominal = Geometry.nominal(family)
        nominal_layer = int((R_MAX_M ** 2 - r0 ** 2) * math.pi * rate / (pitch * velocity))
        capacity = max(int(capacity), 1)
        layers = 1 if family == "cd" else max(1, math.ceil(capacity / (nominal_layer * LAYER_SLACK)))
        if family == "bd" and layers > 2:      # BDXL: 33.4 GB (16.3 M sectors) a layer, 3 or 4 layers
            layers = math.ceil(capacity / BDXL_LAYER_SECTORS)
        layer_sectors = math.ceil(capacity / layers)
        spiral = nominal
        if layer_sectors > nominal_layer:      # fill r0..58 mm: area per sector = p.v/(pi.S)
            area_m2 = (R_MAX_M ** 2 - r0 ** 2) / layer_sectors
            spiral = Geometry.from_physical(family, r0, area_m2 * math.pi * rate)
        return cls(family, assumed, capacity, layers, layer_sectors, spiral)

    # -- the physical view, in mm for drawing ------------------------------------------------------
    @property
    def r0_mm(self) -> float:
        return self.spiral.r0_m * 1e3

    @property
    def pitch_mm(self) -> float:
        return self.spiral.pitch_m * 1e3

    @property
    def sectors_per_s(self) -> float:
        return NOMINAL[self.family][3]

    @property
    def velocity_mm_s(self) -> float:
        """After any scaling to fit the capacity (for_medium)."""
        return self.spiral.pv_m2_s / self.spiral.pitch_m * 1e3

    @property
    def area_mm2(self) -> float:
        """mm^2 swept per sector: p.v / (pi.S)."""
        return self.pitch_mm * self.velocity_mm_s / (math.pi * self.sectors_per_s)

    # -- where a sector is -----------------------------------------------------------------------------
    def layer_position(self, lba: float) -> tuple[int, float]:
        """(layer, j): j counts sectors from the layer's inner start radius (odd layers count down)."""
        layer = min(int(lba // self.layer_sectors), self.layers - 1)
        j = lba - layer * self.layer_sectors
        if layer % 2:
            j = self.layer_sectors - j
        return layer, j

    def radius_mm(self, j: float) -> float:
        # rounded to a nanometre: a layer squeezed to end at 58 mm must not end a float's ulp beyond it
        return round(math.sqrt(self.r0_mm ** 2 + self.area_mm2 * max(j, 0.0)), 6)

    def turns(self, j: float) -> float:
        """Revolutions from the start radius to position j."""
        return self.spiral.revs(max(j, 0.0))

    def j_at_turns(self, turns: float) -> float:
        return self.spiral.lba_at(turns)

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
        return {"family": self.family, "assumed": self.assumed, "r0_mm": self.r0_mm, "pitch_mm": self.pitch_mm,
                "velocity_mm_s": self.velocity_mm_s, "sectors_per_s": self.sectors_per_s,
                "capacity": self.capacity, "layers": self.layers, "layer_sectors": self.layer_sectors,
                "area_mm2": self.area_mm2, "outer_radius_mm": self.outer_radius_mm,
                "total_turns": self.turns(min(self.capacity, self.layer_sectors))}


# -- the fit --------------------------------------------------------------------------------------
def chains(lbas: list[float], geom: Geometry, *, max_turns: int = 24, tolerance: float = 0.2) -> list[list[tuple[float, int]]]:
    """Group failure positions into chains at one angle: [(lba, turn number)], turns counted from
    the chain's first member. A point joins the chain whose last member is closest to a whole
    number (1..max_turns) of turns before it, within `tolerance` turns."""
    done: list[list[tuple[float, int]]] = []
    active: list[tuple[float, list[tuple[float, int]]]] = []      # (revs of last member, chain)
    for x in sorted(lbas):
        n = geom.revs(x)
        best, best_dev, best_k = None, tolerance, 0
        keep = []
        for entry in active:
            last_n, chain = entry
            dn = n - last_n
            if dn > max_turns + 1:
                done.append(chain)
                continue
            keep.append(entry)
            k = round(dn)
            if k < 1:
                continue
            dev = abs(dn - k) / (1 + 0.05 * k)
            if dev < best_dev:
                best, best_dev, best_k = entry, dev, k
        active = keep
        if best is None:
            active.append((n, [(x, 0)]))
        else:
            chain = best[1]
            chain.append((x, chain[-1][1] + best_k))
            active.remove(best)
            active.append((n, chain))
    return done + [chain for _, chain in active]


def fit_chain(chain: list[tuple[float, int]], family: str) -> Geometry | None:
    """Least squares of x = A.m^2 + B.m + C over one chain (the error is in x, the sector a failure
    is seen at): b = 1/A, c = B.b/2, a^2 = c^2 - C.b. None when it does not determine a and b."""
    if len(chain) < 4:
        return None
    x0, xs = chain[0][0], max(chain[-1][0] - chain[0][0], 1.0)
    ms = float(max(chain[-1][1] - chain[0][1], 1))
    # scaled for conditioning: (x - x0)/xs = A'.w^2 + B'.w + C' with w = m/ms in [0, 1]
    s = [[0.0] * 3 for _ in range(3)]
    t = [0.0] * 3
    for x, m in chain:
        w = m / ms
        v = (w * w, w, 1.0)
        y = (x - x0) / xs
        for i in range(3):
            t[i] += v[i] * y
            for j in range(3):
                s[i][j] += v[i] * v[j]
    sol = _solve3(s, t)
    if sol is None or sol[0] <= 0:
        return None
    big_a, big_b, big_c = sol[0] * xs / (ms * ms), sol[1] * xs / ms, sol[2] * xs + x0
    b = 1.0 / big_a
    c = big_b * b / 2.0
    a2 = c * c - big_c * b
    if a2 <= 0:
        return None
    return Geometry(math.sqrt(a2), b, family)


def fit_local(chain: list[tuple[float, int]], prior: Geometry) -> Geometry:
    """Only b, a held at the prior's: enough when a chain is too short to show the spiral's curve."""
    if len(chain) < 2 or chain[-1][1] == chain[0][1]:
        return prior
    a = prior.a

    def cost(b: float) -> float:
        g = Geometry(a, b, prior.family)
        n0 = g.revs(chain[0][0])
        return sum((g.revs(x) - n0 - m) ** 2 for x, m in chain)

    lo, hi = prior.b * 0.8, prior.b * 1.25
    for _ in range(60):                       # golden section: the cost is unimodal in b here
        m1, m2 = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
        if cost(m1) < cost(m2):
            hi = m2
        else:
            lo = m1
    return Geometry(a, (lo + hi) / 2, prior.family)


def fit(lbas: list[float], prior: Geometry, *, rounds: int = 4, max_turns: int = 24) -> Geometry:
    """The spiral that best puts failures at `lbas` on radial lines, starting from `prior`.

    First the local period is searched on a grid (so that chains several turns apart link up
    even when the prior is several percent off); then each round groups the failures into
    same-angle chains with the current estimate, fits the longest chain (fully when it spans
    enough turns to show the curve, else the local period only) and keeps the result if it is
    plausible (within 30-40 % of nominal)."""
    nominal = Geometry.nominal(prior.family)
    if len(lbas) < 3:
        return prior

    def linked(g: Geometry, turns: int) -> int:
        return sum(len(c) for c in chains(lbas, g, max_turns=turns, tolerance=0.12) if len(c) >= 3)

    # the grid and the first rounds link only near turns, which no alias can imitate
    schedule = [1, 2, 4] + [max_turns] * rounds
    geom = max((Geometry(prior.a, prior.b * (0.8 + 0.01 * i), prior.family) for i in range(46)),
               key=lambda g: (linked(g, 1), -abs(g.b - prior.b)))
    if linked(geom, 1) <= linked(prior, 1):
        geom = prior
    for turns in schedule:
        found = [c for c in chains(lbas, geom, max_turns=turns) if len(c) >= 3]
        if not found:
            return geom
        best = max(found, key=lambda c: (c[-1][1] - c[0][1]) * len(c))
        span = best[-1][1] - best[0][1]
        new = fit_chain(best, geom.family) if span >= 200 and len(best) >= 8 else None
        if new is None or not _plausible(new, nominal):
            new = fit_local(best, geom)
        if not _plausible(new, nominal):
            return geom
        geom = new
    return geom


def _plausible(g: Geometry, nominal: Geometry) -> bool:
    return 0.6 < g.a / nominal.a < 1.6 and 0.7 < g.b / nominal.b < 1.4


def _solve3(s: list[list[float]], t: list[float]) -> tuple[float, float, float] | None:
    """Gaussian elimination with partial pivoting for a 3x3 system."""
    m = [row[:] + [t[i]] for i, row in enumerate(s)]
    for col in range(3):
        piv = max(range(col, 3), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-300:
            return None
        m[col], m[piv] = m[piv], m[col]
        for r in range(3):
            if r != col:
                f = m[r][col] / m[col][col]
                for k in range(col, 4):
                    m[r][k] -= f * m[col][k]
    return tuple(m[i][3] / m[i][i] for i in range(3))  # type: ignore[return-value]
