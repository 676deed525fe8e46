"""The report's pictures checked the way a person sees them: a disc with a radial scratch shows a
radial line, in the SVG's geometry and in a headless-Chromium screenshot of the HTML report."""
import math
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from acquire.report import write_report
from acquire.rescue.geometry import DiscLayout
from conftest import run_acquire, write_profile

SCRATCH_SECTORS = 40_000        # a CD's first 6 mm of spiral, 3,900 revolutions
SCRATCH_ANGLE = 0.25            # a quarter turn clockwise from 12 o'clock: 3 o'clock
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def scratch_lbas(geometry: DiscLayout, sectors: int, angle: float) -> list[int]:
    """The sector under a radial scratch at `angle` on every revolution (the spiral of docs/reference/mmc.md "Geometry and speeds")."""
    lbas = set()
    for turn in range(int(geometry.turns(sectors)) + 1):
        j = geometry.j_at_turns(turn + angle)
        if j < sectors:
            lbas.add(int(j))
    return sorted(lbas)


@pytest.fixture(scope="module")
def scratched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scratch")
    lbas = scratch_lbas(DiscLayout.for_medium("cd", SCRATCH_SECTORS), SCRATCH_SECTORS, SCRATCH_ANGLE)
    profile = write_profile(tmp / "disc.toml", sectors=SCRATCH_SECTORS,
                            damage=[{"lbas": ", ".join(map(str, lbas)), "kind": "unreadable"}])
    run_acquire("image", f"sim:{profile}", tmp / "out.iso", "--retries", "0", "--strategy", "linear",
                check_code=3)
    html = write_report(tmp / "out.iso.custody.sqlite", tmp / "report.html")
    return html, lbas


def disc_shapes(html: str, state: str = "bad") -> list[tuple[int, int, int]]:
    """(ring, first bin, last bin) of each shape of `state` in the disc map."""
    svg = html[html.index('data-map="disc-map"'):]
    svg = svg[:svg.index("</svg>")]
    shapes = []
    for part in svg.split("<")[1:]:
        if f'data-state="{state}"' in part and "data-ring" in part:
            ring = int(part.split('data-ring="')[1].split('"')[0])
            first, last = map(int, part.split('data-bins="')[1].split('"')[0].split("-"))
            shapes.append((ring, first, last))
    return shapes


def test_a_radial_scratch_is_a_radial_line_in_the_disc_map_geometry(scratched):
    html, lbas = scratched
    shapes = disc_shapes(html.read_text())
    bins = 180
    rings = {ring for ring, _, _ in shapes}
    assert len(rings) == 40                     # it crosses every ring, inside to outside
    g = DiscLayout.for_medium("cd", SCRATCH_SECTORS)
    for ring, first, last in shapes:
        # the scratch kills the sector under it on each turn: the bad arc is within one sector's
        # length (40 degrees at 25 mm, 9 sectors a turn) either side of 3 o'clock, and narrows outwards
        r_in = g.r0_mm + ring * (g.outer_radius_mm - g.r0_mm) / 40
        sector_arc = 1 / g.sectors_per_turn(r_in)
        for b in (first, last):
            centre = (b + 0.5) / bins
            assert abs(centre - SCRATCH_ANGLE) < sector_arc + 2 / bins, (ring, first, last)
    # and nothing on the other side of the disc
    assert not [s for s in shapes if s[1] > bins // 2]
    # narrower outside than inside: the same sector is a shorter arc further out
    width = lambda ring: max(last - first + 1 for r, first, last in shapes if r == ring)  # noqa: E731
    assert width(39) < width(0)


# --- the screenshot ---------------------------------------------------------------------------------

def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    try:
        import numpy as np                       # fast when present; the pure-Python path is the spec
    except ImportError:
        np = None
    rows, prev = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            if np is not None:
                line = bytearray((np.frombuffer(bytes(line), np.uint8) + np.frombuffer(prev, np.uint8)).tobytes())
            else:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        prev = bytes(line)
        rows.append(prev)
    return width, height, bpp, rows


def chromium(*args, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp / 'chromium-profile'}", *args],
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def screenshot(scratched, tmp_path_factory):
    if CHROMIUM is None:
        print("skipped: no chromium on PATH (Debian: apt-get install chromium)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    html, _ = scratched
    tmp = tmp_path_factory.mktemp("shot")
    png = tmp / "report.png"
    chromium(f"--screenshot={png}", "--window-size=1200,2000", html.as_uri(), tmp=tmp)
    assert png.is_file() and png.stat().st_size > 0
    dom = chromium("--dump-dom", html.as_uri(), tmp=tmp).stdout.decode()
    return decode_png(png.read_bytes()), dom


def test_chromium_renders_the_report_with_both_maps(screenshot):
    (width, height, bpp, rows), dom = screenshot
    assert (width, height) == (1200, 2000)
    colours = {row[i:i + 3] for row in rows[::25] for i in range(0, len(row), bpp * 25)}
    assert len(colours) > 3                     # not a blank page
    assert 'data-map="linear-map"' in dom and 'data-map="disc-map"' in dom


def test_the_screenshot_shows_the_scratch_as_a_radial_line_at_3_o_clock(screenshot):
    (width, height, bpp, rows), _ = screenshot
    face = bytes.fromhex("eef0f3")              # the disc face: used nowhere else on the page
    found = [(x, y) for y in range(0, height, 2) for x in range(0, width, 2)
             if rows[y][x * bpp:x * bpp + 3] == face]
    assert found, "the disc map is not on the first screen"
    xs, ys = [x for x, _ in found], [y for _, y in found]
    cx, cy, radius = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, (max(xs) - min(xs)) / 2

    def reddish(p: bytes) -> bool:
        return p[0] > 150 and p[1] < 90 and p[2] < 90

    angles, radii = [], []
    for y in range(int(cy - radius), int(cy + radius)):
        for x in range(int(cx - radius), int(cx + radius)):
            r = math.hypot(x - cx, y - cy)
            if r < radius * 0.95 and reddish(rows[y][x * bpp:x * bpp + 3]):
                angles.append(math.degrees(math.atan2(x - cx, cy - y)) % 360)   # clockwise from 12
                radii.append(r / radius * 60)
    assert len(angles) > 50
    assert all(45 <= a <= 135 for a in angles), sorted(angles)[:5] + sorted(angles)[-5:]
    assert min(radii) < 26.5 and max(radii) > 30       # from the start of the data to its end (31.3 mm)
