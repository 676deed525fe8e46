"""The spiral from failed intervals: a DVD's or BD's failures are ECC units (16 or 32 sectors, half a
turn at the inner edge), whose centres say little about where the damage is; together, as
intervals, they pin the period (docs/rescue.md "What the engine learns about the drive and the
disc"). geometry.py fits chains of sector failures; this fits unit intervals."""
from __future__ import annotations

import math

from .geometry import Geometry

# -- the fit from intervals: failures wider than a sector (a DVD or BD ECC unit) --------------------
COHERENCE_BINS = 64          # of a turn
COHERENCE_WINDOW = 64        # intervals (about turns, on a scratch): its angle may drift (a chord, a curve)
MAX_INTERVALS = 400
INTERVAL_BLOCK = 100
# The local period near the start is 2.a/b, proportional to r0/v (the pitch cancels): the range of
# b (a held nominal) that the standards allow, r0 and v over their ranges (CD 1.2-1.4 m/s, DVD 3.49
# single and 3.84 dual layer, BD 25 and 27 GB a layer; benchmarks/corpus.py gives the sources),
# widened by 4 % (DVD: 8 % below, where pressed discs run slow). A wider grid lets an alias win: at a DVD's or BD's inner edge a failed unit is
# half a turn, and a lattice of them fits more than one period.
PRIOR_RANGE = {"cd": (0.88, 1.13), "dvd": (0.90, 1.16), "bd": (0.88, 1.05)}


def coherence(intervals: list[tuple[float, float]], geom: Geometry, *, window: int = COHERENCE_WINDOW) -> float:
    """How well `geom` puts failed intervals (LBA start, end) at one angle: within each window of
    `window` consecutive intervals (by LBA, the same windows whatever the spiral), the largest
    number of intervals that cover one angle bin, summed over the windows; ties go to the spiral
    that leaves them the widest common angle (a wrong period narrows the intersection before it
    breaks it). A radial scratch seen through 16-sector units (half a turn at a DVD's inner edge)
    covers the same bin on every turn with the right spiral, and drifts off it with a wrong one."""
    bins = COHERENCE_BINS
    ordered = sorted(intervals)
    total = 0.0
    for w in range(0, len(ordered), window):
        h = [0] * bins
        for start, end in ordered[w:w + window]:
            n0, n1 = geom.revs(start), geom.revs(end)
            if n1 - n0 > 0.9:            # a ring or a band: no angle to tell
                continue
            b0 = int((n0 % 1.0) * bins)
            for k in range(b0, b0 + int((n1 - n0) * bins) + 1):
                h[k % bins] += 1
        top = max(h)
        total += top + (h.count(top) / (bins + 1) if top else 0.0)
    return total


def fit_coherent(intervals: list[tuple[float, float]], prior: Geometry) -> Geometry:
    """The local period (b, with a held) that makes failed intervals most coherent in angle: a grid
    over the standards' range (PRIOR_RANGE), finer steps around the best, then the start radius
    with the period held where the failures lie. The prior is kept unless the best clearly beats
    it (scattered damage is coherent nowhere)."""
    if len(intervals) > MAX_INTERVALS:        # blocks of neighbours spread over the disc: a window needs them
        blocks = MAX_INTERVALS // INTERVAL_BLOCK
        step = (len(intervals) - INTERVAL_BLOCK) / (blocks - 1)
        intervals = [x for i in range(blocks) for x in intervals[int(i * step):int(i * step) + INTERVAL_BLOCK]]
    if len(intervals) < 6:
        return prior

    def at(f: float) -> Geometry:
        return Geometry(prior.a, prior.b * f, prior.family)

    def best_of(factors) -> tuple[float, float]:
        return max((coherence(intervals, at(f)), -abs(f - 1.0), f) for f in factors)[0::2]

    lo, hi = PRIOR_RANGE[prior.family]
    grid = [lo + 0.004 * i for i in range(int((hi - lo) / 0.004) + 1)]
    scores = [coherence(intervals, at(f)) for f in grid]
    top, f = max((sc, -abs(f - 1.0), f) for sc, f in zip(scores, grid))[0::2]
    for step in (0.001, 0.0002):
        top, f = best_of([f + step * k for k in range(-5, 6)])
    base = coherence(intervals, prior)
    typical = sorted(scores)[len(scores) // 2]
    if top <= base or top < 1.3 * typical:
        return prior
    best = at(f)
    # then the start radius: a and b together, the period held where the failures lie
    x = sorted(x for x, _ in intervals)[len(intervals) // 2]
    c = (best.revs(x) + best.a) / best.b         # the period there is 2c: keep it

    def with_a(k: float) -> Geometry:            # c^2.b'^2 - x.b' - a'^2 = 0
        a = best.a * k
        return Geometry(a, (x + math.sqrt(x * x + 4 * c * c * a * a)) / (2 * c * c), prior.family)

    if len(intervals) < 50:
        return best
    _, _, k = max((coherence(intervals, with_a(1 + 0.01 * i)), -abs(i), i) for i in range(-10, 11))
    return with_a(1 + 0.01 * k)
