"""The spiral: LBA -> radius and angle, and the disc's own parameters fitted from where failures fall."""
import math

import pytest

from acquire.rescue.geometry import Geometry, fit

SECTORS = {"cd": 359_844, "dvd": 2_295_104, "bd": 12_219_392}


@pytest.mark.parametrize("family, low, high", [("cd", 8.5, 22.5), ("dvd", 27, 72), ("bd", 65, 165)])
def test_sectors_per_turn_at_the_data_radii_match_the_field_guide(family, low, high):
    g = Geometry.nominal(family)            # docs/reference/mmc.md: CD 9..21, DVD 29..71, BD 67..163
    assert low < g.sectors_per_rev(0) < low * 1.15
    r58 = g.lba_at(58e-3 / g.pitch_m - g.a)
    assert high * 0.9 < g.sectors_per_rev(r58) < high


@pytest.mark.parametrize("family", ["cd", "dvd", "bd"])
def test_revs_and_lba_at_are_inverse_and_the_radius_follows_the_area_law(family):
    g = Geometry.nominal(family)
    for lba in (0, 1234, 100_000, SECTORS[family] - 1):
        assert g.lba_at(g.revs(lba)) == pytest.approx(lba, abs=1e-6)
        assert g.radius_m(lba) ** 2 == pytest.approx(g.r0_m ** 2 + g.pv_m2_s * lba / (math.pi * _rate(family)))


def _rate(family):
    return {"cd": 75.0, "dvd": 1_385_000 / 2048, "bd": 4_495_500 / 2048}[family]


def scratch_failures(true: Geometry, lba_from: int, lba_to: int, angle: float, every: int = 9) -> list[float]:
    """Where a radial scratch is seen: the failed sector (a whole sector, so up to one sector off)
    on the first turns, then on every `every`-th turn, as the engine confirms it."""
    out = []
    n0, n1 = math.ceil(true.revs(lba_from)), int(true.revs(lba_to))
    for i, n in enumerate(range(n0, n1)):
        if i < 6 or i % every == 0:
            out.append(math.floor(true.lba_at(n + angle)) + 0.5)
    return out


@pytest.mark.parametrize("family, r0_factor, pv_factor", [
    ("cd", 1.04, 0.95), ("cd", 0.97, 1.05), ("dvd", 0.96, 1.05), ("bd", 1.03, 1.04)])
def test_the_fit_recovers_start_radius_and_pitch_times_velocity_from_a_scratch(family, r0_factor, pv_factor):
    nominal = Geometry.nominal(family)
    true = Geometry.from_physical(family, nominal.r0_m * r0_factor, nominal.pv_m2_s * pv_factor)
    n = SECTORS[family]
    failures = scratch_failures(true, n // 8, n // 2, angle=0.3)[:600]
    got = fit(failures, nominal)
    assert got.r0_m == pytest.approx(true.r0_m, rel=2e-3)
    assert got.pv_m2_s == pytest.approx(true.pv_m2_s, rel=2e-3)


def test_a_few_turns_of_a_scratch_give_the_local_period_to_a_few_percent_and_predict_the_next_turn():
    nominal = Geometry.nominal("cd")
    true = Geometry.from_physical("cd", nominal.r0_m * 1.04, nominal.pv_m2_s * 0.95)   # 6 % off in period
    failures = scratch_failures(true, 50_000, 50_200, angle=0.6)[:5]
    got = fit(failures, nominal)
    last = failures[-1]
    assert got.sectors_per_rev(last) == pytest.approx(true.sectors_per_rev(last), rel=0.02)
    assert abs(got.same_angle(last, 1) - true.same_angle(last, 1)) < 0.5       # within half a sector


def test_failures_scattered_at_random_leave_the_prior_alone():
    import random
    rng = random.Random(3)
    nominal = Geometry.nominal("dvd")
    got = fit([rng.randrange(2_000_000) + 0.5 for _ in range(40)], nominal)
    assert 0.6 < got.a / nominal.a < 1.6 and 0.7 < got.b / nominal.b < 1.4
