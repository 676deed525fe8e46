"""The adaptive engine on the damage corpus (benchmarks/corpus.py): the spiral fit at the edges of each
standard's range, damage whose angle drifts, the failure granularity learnt both ways, and the
unreadable set exact on every kind of damage."""
import math
import sys

import pytest

from acquire.drive.device import open_drive
from acquire.rescue import SectorMap, Settings, State
from acquire.rescue.adaptive import AdaptiveEngine
from acquire.rescue.coherence import fit_coherent
from acquire.rescue.geometry import Geometry, fit
from conftest import ROOT, write_profile
from test_adaptive import Recorder

sys.path.insert(0, str(ROOT / "benchmarks"))
import corpus  # noqa: E402

# (medium, start radius mm, pitch um, velocity m/s): the corners of each range (corpus.MEDIA)
EDGES = [("cd", 24.8, 1.7, 1.2), ("cd", 25.2, 1.5, 1.4), ("dvd-sl", 24.2, 0.77, 3.46),
         ("dvd-dl", 23.8, 0.71, 3.87), ("bd-25", 23.8, 0.317, 4.93), ("bd-27", 24.2, 0.323, 4.54)]


def disc(medium, r0_mm, pitch_um, v, sectors=None):
    family = corpus.MEDIA[medium][0]
    return corpus.Disc(medium, family, sectors or corpus.FULL[family], r0_mm * 1e-3, pitch_um * 1e-6, v)


def truth(d: corpus.Disc) -> Geometry:
    return Geometry(d.a, d.b, d.family)


@pytest.mark.parametrize("edge", EDGES, ids=[f"{e[0]}-{e[2]}um-{e[3]}ms" for e in EDGES])
def test_the_spiral_fit_recovers_a_disc_at_the_edge_of_its_standard_from_the_nominal_start(edge):
    d = disc(*edge)
    # a radial scratch as the engine sees it: the first turns, then every 9th (once the angle is known)
    n0, n1 = int(d.revs(d.sectors // 8)), int(d.revs(d.sectors // 2))
    points = [math.floor(d_lba) + 0.5 for i, n in enumerate(range(n0, n1)) if i < 6 or i % 9 == 0
              for d_lba in [(((n + 0.3) * d.pitch_m + d.r0_m) ** 2 - d.r0_m ** 2) / d.area]][:600]
    got = fit(points, Geometry.nominal(d.family))
    true = truth(d)
    assert got.a == pytest.approx(true.a, rel=3e-3) and got.b == pytest.approx(true.b, rel=3e-3)
    x = points[-1]
    assert got.sectors_per_rev(x) == pytest.approx(true.sectors_per_rev(x), rel=1e-3)


@pytest.mark.parametrize("edge", [e for e in EDGES if e[0] != "cd"], ids=lambda e: f"{e[0]}-{e[2]}um-{e[3]}ms")
def test_failed_ecc_units_give_the_local_period_at_the_edges_of_the_dvd_and_bd_ranges(edge):
    """At a DVD's inner edge a 16-sector unit is half a turn: the centres of failed units say little,
    their intervals together pin the period (geometry.fit_coherent)."""
    d = disc(*edge, sectors=40_000)
    unit = corpus.ECC[d.family]
    case = corpus.Case("radial", "x", 0, d, "ecc", bytearray(d.sectors))
    corpus.line_scratch(corpus.Painter(d, case.state, corpus.random.Random(1)), d.r0_m, d.r_end,
                        lambda r, t: 0.4, lambda r, t: 0.1e-3, edge_flaky=0)
    units = sorted({lba - lba % unit for lba in case.bad})
    alone = [(u, u + unit) for i, u in enumerate(units)
             if (i == 0 or units[i - 1] != u - unit) and (i + 1 == len(units) or units[i + 1] != u + unit)]
    got = fit_coherent(alone, Geometry.nominal(d.family))
    x = d.sectors / 2
    assert got.sectors_per_rev(x) == pytest.approx(truth(d).sectors_per_rev(x), rel=1e-2)


def run(tmp_path, case, *, retries=1, drive=None):
    damage = case.damage_entries()
    path = write_profile(tmp_path / "disc.toml", sectors=case.sectors, profile=corpus.PROFILE[case.disc.family],
                         damage=damage, drive=drive)
    reader = open_drive(f"sim:{path}")
    try:
        medium = reader.medium()
        smap, sink = SectorMap(medium.capacity), Recorder()
        engine = AdaptiveEngine(reader, smap, sink, Settings.for_medium(medium.capacity, medium.ecc_sectors,
                                                                        medium.family, retries=retries))
        engine.run()
        return engine, smap, sink.reads
    finally:
        reader.close()


def bad_set(smap):
    return {lba for run in smap.runs_of(State.BAD) for lba in range(run.start, run.end)}


def painted(d: corpus.Disc, centre, width_m=0.25e-3, granularity="sector", r_from=0.15, r_to=0.95):
    case = corpus.Case("drift", "x", 0, d, granularity, bytearray(d.sectors))
    r1, r2 = d.r0_m + r_from * (d.r_end - d.r0_m), d.r0_m + r_to * (d.r_end - d.r0_m)
    corpus.line_scratch(corpus.Painter(d, case.state, corpus.random.Random(2)), r1, r2, centre,
                        lambda r, t: width_m / 2, edge_flaky=0)
    if granularity == "ecc":
        case.state = corpus.to_ecc(case.state, corpus.ECC[d.family])
    return case, r1, r2


@pytest.mark.parametrize("shape", ["chord", "curve"])
def test_a_scratch_whose_angle_drifts_with_the_radius_is_followed(tmp_path, shape):
    """A grazing chord (24.9 mm from the centre: its angle moves by asin(d/r)) and a curved scratch
    (its angle moves a third of a turn over the span): the harvest still fails well under once a turn."""
    d = disc("cd", 25.0, 1.55, 1.25, sectors=40_000)
    span = d.r_end - d.r0_m
    if shape == "chord":
        centre = lambda r, t: 0.2 + math.acos(min(1.0, 24.9e-3 / r)) / (2 * math.pi)   # noqa: E731
    else:
        centre = lambda r, t: 0.2 + 0.33 * ((r - d.r0_m) / span) ** 2                    # noqa: E731
    case, r1, r2 = painted(d, centre)
    drift = abs(centre(r2, 0) - centre(r1, 0))
    assert drift > 0.04                  # several tenths of a CD sector: more than a fixed angle allows
    engine, smap, reads = run(tmp_path, case)
    assert bad_set(smap) == case.bad
    turns = d.revs(d.lba_at_radius(r2)) - d.revs(d.lba_at_radius(r1))
    learnt = d.lba_at_radius(r1) + 40 * d.rate * 2 * math.pi * r1 / d.velocity_m_s
    late = [r for r in reads if r[0] == "harvest" and not r[3] and r[1] >= learnt]
    assert len(late) / turns < 0.25, (len(late), turns)


@pytest.mark.parametrize("information", [True, False])
@pytest.mark.parametrize("granularity", ["sector", "ecc"])
def test_the_failure_granularity_of_the_drive_is_learnt_from_the_reads(tmp_path, granularity, information):
    d = disc("dvd-sl", 24.0, 0.74, 3.49, sectors=30_000)
    case, _, _ = painted(d, lambda r, t: 0.6, width_m=0.15e-3, granularity=granularity)
    drive = None if information else {"report_information": False}
    engine, smap, reads = run(tmp_path, case, drive=drive)
    assert bad_set(smap) == case.bad
    if granularity == "sector":
        assert engine.granularity.unit == 1 and engine.model.unit == 1
        assert engine.granularity.partial_units
    else:
        assert engine.granularity.unit == 16 and engine.granularity.decided
        assert not engine.granularity.partial_units
    probes = [r for r in reads if "granularity" in r[4]]
    assert len(probes) <= 8


@pytest.mark.parametrize("family, sectors", [("cd", 6_000), ("dvd-sector", 16_000), ("bd-ecc", 16_000)])
def test_on_every_kind_of_damage_the_unreadable_set_is_exactly_the_profiles(tmp_path, family, sectors):
    """Flaky sectors fail up to 3 times; with --retries 3 every one of them is read (its read alone
    and its retries reach it 4 times, also where no read of several did), and only the profile's
    unreadable sectors end BAD."""
    for kind in corpus.KINDS:
        case = corpus.make_case(kind, family, seed=7, sectors=sectors)
        _, smap, _ = run(tmp_path, case, retries=3)
        assert bad_set(smap) == case.bad, kind
        assert smap.count(State.FINISHED) == case.recoverable, kind


def test_the_discs_own_structure_data_replaces_the_nominal_start():
    """DVD PFI gives the track pitch and the linear density (hence the velocity): Settings.spiral_hint."""
    d = disc("dvd-dl", 24.0, 0.74, 3.84)
    settings = Settings.for_medium(d.sectors, 16, "dvd", spiral_hint=(None, 0.74e-6, 3.84))
    engine = AdaptiveEngine(None, SectorMap(d.sectors), Recorder(), settings)
    x = d.sectors / 3
    assert engine.model.geom.sectors_per_rev(x) == pytest.approx(truth(d).sectors_per_rev(x), rel=1e-6)
    assert Geometry.nominal("dvd").sectors_per_rev(x) > 1.05 * truth(d).sectors_per_rev(x)      # 3.49 m/s is 7 % off
    plain = AdaptiveEngine(None, SectorMap(d.sectors), Recorder(), Settings.for_medium(d.sectors, 16, "dvd"))
    assert plain.model.geom == Geometry.nominal("dvd")
