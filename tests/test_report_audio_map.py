"""The report's maps show tracks and audio damage by time (issue 19, item 5): a damaged mixed-mode CD
acquired through the simulated drive, its HTML report's SVGs read through their data-* attributes.
The oracles are the record's own rows (audio_damage, read with sqlite3) and the simulated profile's
track starts, not the report's model; mm:ss.ff and x positions are computed here from 75 frames of
588 samples a second and the drawn axis."""
from __future__ import annotations

import json
import math
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st

from acquire.report import build_report, render, write_report
from acquire.report.audio_map import LABEL_PX, STRIP_CELLS, STRIP_PX, audio_map_svg
from audio_discs import mixed_mode
from conftest import run_acquire

SVG = "{http://www.w3.org/2000/svg}"
SAMPLES, FRAMES = 588, 75


def shapes(svg: str, kind: str) -> list[dict]:
    """The attributes of every element of data-kind `kind` (xml.etree: the SVG must be well-formed)."""
    return [dict(e.attrib) for e in ET.fromstring(svg).iter() if e.get("data-kind") == kind]


def svg_of(html: str, kind: str) -> str:
    at = html.index(f'data-map="{kind}"')
    start = html.rindex("<svg", 0, at)
    return html[start:html.index("</svg>", at) + len("</svg>")]


def mmssff(sample: int) -> str:
    frame = sample // SAMPLES
    return f"{frame // (60 * FRAMES):02d}:{frame // FRAMES % 60:02d}.{frame % FRAMES:02d}"


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audio-map")
    # no overread: track 4's last 6 samples are not-overread; LBA 700 (track 3) unstable without C2
    # flags: a mismatch; LBA 530 (track 2) unstable with C2 flags set: c2
    disc = mixed_mode(tmp, drive="read_offset = 6", damage=['lbas = "700"\nkind = "unstable"\nc2 = false',
                                                            'lbas = "530"\nkind = "unstable"'])
    done = run_acquire("image", f"sim:{disc['profile']}", tmp / "out.iso", "--json", "--audio-budget", "20",
                       check_code=3)
    record = tmp / "out.iso.custody.sqlite"
    html = write_report(record, tmp / "report.html").read_text()
    return tmp, disc, json.loads(done.stdout), record, html


def test_every_unresolved_run_of_the_record_is_drawn_on_its_track_at_its_time(damaged):
    tmp, disc, out, record, html = damaged
    with sqlite3.connect(record) as db:
        runs = db.execute("SELECT track, first_sample, last_sample, time, reason FROM audio_damage").fetchall()
    assert {r[4] for r in runs} == {"c2", "mismatch", "not-overread"}          # the three kinds of damage
    svg = svg_of(html, "audio-map")
    strips = {int(s["data-track"]): s for s in shapes(svg, "track")}
    assert sorted(strips) == [2, 3, 4]
    drawn = shapes(svg, "unresolved")
    for track, first, last, time, reason in runs:
        assert time == mmssff(first)                       # the record's mm:ss.ff, recomputed here
        n = disc["tracks"][track][1] * SAMPLES             # the track's samples, from the profile
        assert int(strips[track]["data-samples"]) == n
        hit = [s for s in drawn if int(s["data-track"]) == track
               and int(s["data-first-sample"]) <= first and last <= int(s["data-last-sample"])]
        assert len(hit) == 1, (track, first, last)
        s = hit[0]
        assert s["data-reason"] == reason
        # drawn where the axis puts its time: the run's first and last sample inside the shape
        for sample in (first, last + 1):
            at = LABEL_PX + sample * STRIP_PX / n
            assert float(s["x"]) - 0.01 <= at <= float(s["x"]) + float(s["width"]) + 0.01
    # one shape per run here (the runs lie far apart), exact to the sample
    assert sorted((int(s["data-track"]), int(s["data-first-sample"]), int(s["data-last-sample"]), s["data-reason"],
                   s["data-first-time"]) for s in drawn) == sorted((t, f, l, r, tm) for t, f, l, tm, r in runs)
    assert sum(int(s["data-samples"]) for s in drawn) == out["audio"]["unresolved_samples"]


def test_the_sector_map_marks_each_track_start_at_the_tocs_lba(damaged):
    tmp, disc, out, record, html = damaged
    svg = svg_of(html, "linear-map")
    marks = shapes(svg, "track-start")
    starts = {number: start for number, (start, _, _) in disc["tracks"].items()}      # the profile's TOC
    assert {int(m["data-track"]): int(m["data-lba"]) for m in marks} == starts
    assert {int(m["data-track"]): m["data-track-kind"] for m in marks} == {1: "data", 2: "audio", 3: "audio",
                                                                          4: "audio"}
    with sqlite3.connect(record) as db:
        capacity = db.execute("SELECT capacity FROM medium").fetchone()[0]
    per_cell = max(1, math.ceil(capacity / 6000))      # 100 columns, at most 60 rows (docs/reports.md)
    cells = {(int(r.get("data-first")), int(r.get("data-last"))): r.attrib
             for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("data-first") is not None}
    for m in marks:
        lba = int(m["data-lba"])
        # the mark is inside the row of the cell holding its LBA, at the LBA's fraction of it
        row = lba // per_cell // 100
        x = 84 + (lba / per_cell - row * 100) * 6
        assert (int(m["data-row"]), float(m["x1"])) == (row, pytest.approx(x, abs=0.01))
        cell = next(r for (a, b), r in cells.items() if a <= lba <= b)
        assert float(cell["x"]) <= float(m["x1"]) <= float(cell["x"]) + float(cell["width"])


def test_the_markdown_report_links_the_audio_map_beside_it_and_xmllint_finds_every_svg_well_formed(damaged, tmp_path):
    tmp, disc, out, record, html = damaged
    md = write_report(record, tmp_path / "r.md").read_text()
    assert "![Audio tracks by time](r.audio-map.svg)" in md and "![Sector map](r.sector-map.svg)" in md
    audio_svg = (tmp_path / "r.audio-map.svg").read_text()
    assert shapes(audio_svg, "unresolved") == shapes(svg_of(html, "audio-map"), "unresolved")
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint (libxml2-utils) is not installed")
    for name in ("r.sector-map.svg", "r.disc-map.svg", "r.audio-map.svg"):
        done = subprocess.run(["xmllint", "--noout", str(tmp_path / name)], capture_output=True, text=True)
        assert done.returncode == 0, (name, done.stderr)


def test_a_data_disc_of_one_track_has_no_track_marks_and_no_audio_map(tmp_path):
    from conftest import write_profile
    profile = write_profile(tmp_path / "disc.toml", sectors=2000)
    run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", check_code=0)
    html = render(build_report(tmp_path / "out.iso.custody.sqlite"), "html")
    assert 'data-map="audio-map"' not in html and 'data-kind="track-start"' not in html


def test_the_lower_lane_draws_the_tracks_sectors_the_map_does_not_call_read():
    # a record made before the audio step marked its tracks: LBA 1100-1104 of track 2 bad, 1290- untried
    tracks = [{"track": 2, "start": 1000, "end": 1300}]
    runs = [(0, 1100, 4), (1100, 5, 3), (1105, 185, 5), (1290, 20, 0)]
    drawn = shapes(audio_map_svg(tracks, [], runs), "sectors")
    assert [(s["data-state"], int(s["data-first-lba"]), int(s["data-last-lba"]), int(s["data-sectors"]),
             s["data-first-time"]) for s in drawn] == [("bad", 1100, 1104, 5, "00:01.25"),
                                                       ("untried", 1290, 1299, 10, "00:03.65")]
    n = 300 * SAMPLES
    x, width = float(drawn[0]["x"]), float(drawn[0]["width"])
    assert x <= LABEL_PX + 100 * SAMPLES * STRIP_PX / n < x + width


@st.composite
def track_with_runs(draw):
    sectors = draw(st.integers(1, 400_000))                   # up to 88 minutes
    n = sectors * SAMPLES
    cuts = sorted(draw(st.sets(st.integers(0, n - 1), max_size=60)))
    reasons = draw(st.lists(st.sampled_from(["c2", "mismatch", "unreadable", "not-overread"]),
                            min_size=len(cuts) // 2, max_size=len(cuts) // 2))
    runs = [{"track": 1, "first_sample": cuts[2 * i], "last_sample": cuts[2 * i + 1], "reason": reasons[i]}
            for i in range(len(cuts) // 2)]
    return sectors, runs


@settings(max_examples=150, deadline=None)
@given(track_with_runs())
def test_any_set_of_runs_is_drawn_inside_the_axis_covered_and_counted(case):
    sectors, runs = case
    n = sectors * SAMPLES
    svg = audio_map_svg([{"track": 1, "start": 0, "end": sectors}], runs, [])
    drawn = shapes(svg, "unresolved")
    assert len(drawn) <= STRIP_CELLS
    for s in drawn:
        x, w = float(s["x"]), float(s["width"])
        assert LABEL_PX - 0.01 <= x and x + w <= LABEL_PX + STRIP_PX + 0.01 and w > 0
        assert int(s["data-first-sample"]) <= int(s["data-last-sample"])
    for r in runs:       # each run inside the sample span of the shapes drawn at its first and last sample
        for sample in (r["first_sample"], r["last_sample"]):
            at = LABEL_PX + (sample + 0.5) * STRIP_PX / n
            assert any(float(s["x"]) - 0.01 <= at <= float(s["x"]) + float(s["width"]) + 0.01
                       and int(s["data-first-sample"]) <= sample <= int(s["data-last-sample"]) for s in drawn)
    assert sum(int(s["data-samples"]) for s in drawn) == sum(r["last_sample"] - r["first_sample"] + 1 for r in runs)


def test_the_strips_size_follows_the_cell_count_not_the_runs():
    sectors = 333_000                                          # 74 minutes in one track
    many = [{"track": 1, "first_sample": i * 1000, "last_sample": i * 1000 + 10, "reason": ("c2", "mismatch")[i % 2]}
            for i in range(150_000)]
    svg = audio_map_svg([{"track": 1, "start": 0, "end": sectors}], many, [(0, sectors, 0)])
    assert len(shapes(svg, "unresolved")) <= STRIP_CELLS and len(shapes(svg, "sectors")) == 1
    assert len(svg) < 120_000
