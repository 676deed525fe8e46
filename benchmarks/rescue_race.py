"""The rescue race: acquire's adaptive engine, its linear engine, GNU ddrescue 1.27 and the oracle,
on seeded damage patterns of full-size discs, all charged with the clock of docs/reference/contracts.md "The clock".

    python benchmarks/rescue_race.py            # full-size discs (CD 359,844; DVD 2,295,104 sectors)
    python benchmarks/rescue_race.py --quick    # a tenth of the size, a few patterns
    python benchmarks/rescue_race.py --only cd-scratch --keep DIR

Prints, per pattern, the drive time to 99 %, 99.9 % and 100 % of the recoverable sectors, the
failed reads, and the ratios to ddrescue and to the oracle (reading exactly the recoverable
sectors once, in order). Everything it writes goes to a temporary directory that is deleted.

How each is timed:
- acquire: `python -m acquire image sim:PROFILE --strategy S --json` with `[drive] trace`; the trace
  lists every READ in order and its outcome, and the clock is recomputed from it with the formula
  of docs/reference/contracts.md "The clock" (the JSON's elapsed_s is checked against the recomputed total).
- ddrescue: `ddrescue -b 2048 -r1 --test-mode=BADMAP --log-reads=LOG` on /dev/zero; the reads
  it logs are charged with the same formula (error_delay_s per failed read). Flaky sectors are run
  in stages: a sector that fails f times is bad in the test map for the first stages, so that
  it fails its first f reads, as in the simulated drive.
- oracle: the recoverable runs read once each, in LBA order, in reads of at most 32 sectors.
"""
from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acquire.drive.profiles import ECC_SECTORS  # noqa: E402
from acquire.drive.sim.reads import block_span  # noqa: E402
from acquire.rescue.geometry import Geometry  # noqa: E402

SECTOR = 2048
RATE_1X = {"cd": 153_600, "dvd": 1_385_000, "bd": 4_495_500}
SPEED_X = {"cd": 24, "dvd": 8, "bd": 6}
PROFILE = {"cd": "cd-rom", "dvd": "dvd-rom", "bd": "bd-rom"}
FULL = {"cd": 359_844, "dvd": 2_295_104, "bd": 12_219_392}
LINEAR_UP_TO = 150_000               # acquire's linear engine is run where it costs minutes, not hours of wall
TIMING = {"error_delay_s": 8.0, "seek_base_s": 0.08, "seek_full_s": 0.12, "overhead_s": 0.0005}


# -- damage patterns ---------------------------------------------------------------------------------
@dataclass
class Pattern:
    name: str
    family: str
    sectors: int
    bad: set[int] = field(default_factory=set)          # truly unreadable
    flaky: dict[int, int] = field(default_factory=dict)  # LBA -> failures before it reads

    @property
    def recoverable(self) -> int:
        return self.sectors - len(self.bad)


def true_geometry(family: str, rng: random.Random) -> Geometry:
    """A disc a few percent off nominal, as real ones are."""
    nominal = Geometry.nominal(family)
    return Geometry.from_physical(family, nominal.r0_m * rng.uniform(0.96, 1.04),
                                  nominal.pv_m2_s * rng.uniform(0.94, 1.06))


def wedge(geom: Geometry, sectors: int, angle: float, width: float, r_from: float, r_to: float) -> set[int]:
    """Sectors touching the angles [angle, angle + width) (turns) between two radii (m)."""
    bad: set[int] = set()
    n_from = max(0.0, r_from / geom.pitch_m - geom.a)
    n_to = r_to / geom.pitch_m - geom.a
    for n in range(math.floor(n_from), math.ceil(n_to) + 1):
        x1, x2 = geom.lba_at(n + angle), geom.lba_at(n + angle + width)
        if x2 < 0 or x1 >= sectors or not (n_from <= n + angle <= n_to):
            continue
        bad.update(range(max(0, math.floor(x1)), min(sectors, math.floor(x2) + 1)))
    return bad


def ring(geom: Geometry, sectors: int, r_from: float, wobble: float, rng: random.Random) -> set[int]:
    """Edge rot: everything outside a radius that wanders with the angle by +-wobble (m)."""
    bad: set[int] = set()
    phase = rng.random()
    for lba in range(int(geom.lba_at(max(0.0, (r_from - wobble) / geom.pitch_m - geom.a))), sectors):
        if geom.radius_m(lba) >= r_from + wobble * math.sin(2 * math.pi * (geom.angle(lba) + phase)):
            bad.add(lba)
    return bad


def ecc_blocks(bad: set[int], family: str, sectors: int) -> set[int]:
    """A DVD or BD loses whole error-correction blocks."""
    unit = ECC_SECTORS[family]
    if unit == 1:
        return bad
    return {b for lba in {x - x % unit for x in bad} for b in range(lba, min(lba + unit, sectors))}


def make_patterns(quick: bool, seed: int = 2026) -> list[Pattern]:
    scale = 10 if quick else 1
    out = []

    def new(name: str, family: str) -> tuple[Pattern, Geometry, random.Random]:
        rng = random.Random(f"{seed}-{name}")
        sectors = FULL[family] // scale
        return Pattern(name, family, sectors), true_geometry(family, rng), rng

    def flaky(p: Pattern, rng: random.Random, n: int) -> None:
        while len(p.flaky) < n:
            lba = rng.randrange(p.sectors)
            if lba not in p.bad and all(abs(lba - b) > 64 for b in p.flaky):
                p.flaky[lba] = rng.choice((1, 1, 2))

    def span(g: Geometry, sectors: int) -> tuple[float, float]:
        return g.r0_m, g.radius_m(sectors)

    # a radial scratch, 0.6 mm wide at 40 mm: across most of the data on the CD, over a
    # quarter of the radii on the DVD (where every turn loses one or two whole ECC blocks)
    for family, (lo, hi) in (("cd", (0.2, 0.85)), ("dvd", (0.3, 0.55))):
        p, g, rng = new(f"{family}-scratch", family)
        r0, r1 = span(g, p.sectors)
        p.bad = ecc_blocks(wedge(g, p.sectors, rng.random(), 0.6e-3 / (2 * math.pi * 40e-3),
                                 r0 + lo * (r1 - r0), r0 + hi * (r1 - r0)), family, p.sectors)
        flaky(p, rng, 4)
        out.append(p)
    # a smudge: a 25 degree wedge over a band of radii
    p, g, rng = new("dvd-smudge", "dvd")
    r0, r1 = span(g, p.sectors)
    p.bad = ecc_blocks(wedge(g, p.sectors, rng.random(), 25 / 360, r0 + 0.4 * (r1 - r0), r0 + 0.5 * (r1 - r0)),
                       "dvd", p.sectors)
    flaky(p, rng, 4)
    out.append(p)
    # edge rot: the outer ring, with a wandering edge
    p, g, rng = new("cd-edge-rot", "cd")
    r0, r1 = span(g, p.sectors)
    p.bad = ring(g, p.sectors, r1 - 0.015 * (r1 - r0), 0.01 * (r1 - r0), rng)
    flaky(p, rng, 4)
    out.append(p)
    if not quick:
        # scattered failing ECC blocks
        p, g, rng = new("dvd-scattered-ecc", "dvd")
        for _ in range(300):
            lba = rng.randrange(p.sectors)
            p.bad.add(lba)
        p.bad = ecc_blocks(p.bad, "dvd", p.sectors)
        flaky(p, rng, 6)
        out.append(p)
        # several at once: two scratches, a smudge, scattered blocks
        p, g, rng = new("dvd-several", "dvd")
        r0, r1 = span(g, p.sectors)
        bad = wedge(g, p.sectors, rng.random(), 0.5e-3 / (2 * math.pi * 40e-3), r0 + 0.1 * (r1 - r0), r0 + 0.3 * (r1 - r0))
        bad |= wedge(g, p.sectors, rng.random(), 0.8e-3 / (2 * math.pi * 40e-3), r0 + 0.5 * (r1 - r0), r0 + 0.65 * (r1 - r0))
        bad |= wedge(g, p.sectors, rng.random(), 20 / 360, r0 + 0.7 * (r1 - r0), r0 + 0.75 * (r1 - r0))
        bad |= {rng.randrange(p.sectors) for _ in range(100)}
        p.bad = ecc_blocks(bad, "dvd", p.sectors)
        flaky(p, rng, 6)
        out.append(p)
    return out


def ranges(lbas) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lba in sorted(lbas):
        if out and out[-1][1] == lba - 1:
            out[-1] = (out[-1][0], lba)
        else:
            out.append((lba, lba))
    return out


def write_profile(path: Path, p: Pattern, trace: Path) -> None:
    lines = ["[drive]", 'serial = "RACE"', f'trace = "{trace}"', "", "[disc]",
             f'profile = "{PROFILE[p.family]}"', f"sectors = {p.sectors}", "", "[timing]"]
    lines += [f"{k} = {v}" for k, v in TIMING.items()]
    if p.bad:
        text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges(p.bad))
        lines += ["", "[[damage]]", f'lbas = "{text}"', 'kind = "unreadable"']
    for lba, failures in sorted(p.flaky.items()):
        lines += ["", "[[damage]]", f'lbas = "{lba}"', 'kind = "flaky"', f"failures = {failures}"]
    path.write_text("\n".join(lines) + "\n")


# -- the clock -----------------------------------------------------------------------------------------
class Clock:
    """docs/reference/contracts.md "The clock", for one drive: feed it reads in order, it tells the time.
    `error_delay_s`: what a failed READ costs (8 s by default; 30 s is the worst case vendors state)."""

    def __init__(self, family: str, sectors: int, error_delay_s: float | None = None) -> None:
        self.rate = SPEED_X[family] * RATE_1X[family]
        self.sectors = sectors
        self.head: int | None = 0
        self.t = 0.0
        self.error_delay_s = TIMING["error_delay_s"] if error_delay_s is None else error_delay_s

    def read(self, lba: int, count: int, ok: bool) -> float:
        t = TIMING
        if self.head is None:
            seek = t["seek_base_s"] + t["seek_full_s"] / 2
        else:
            d = lba - self.head
            spin = d * SECTOR / self.rate
            seek = 0.0 if d == 0 else spin if 0 < d and spin < t["seek_base_s"] else \
                t["seek_base_s"] + t["seek_full_s"] * abs(d) / self.sectors
        self.t += t["overhead_s"] + seek + count * SECTOR / self.rate + (0 if ok else self.error_delay_s)
        self.head = lba + count if ok else None
        return self.t


@dataclass
class Outcome:
    who: str
    times: list[tuple[float, int]]     # (clock, recoverable sectors recovered so far), at each gain
    failed_reads: int
    total_s: float
    recovered: int
    wall_s: float

    def time_to(self, fraction: float, recoverable: int) -> float | None:
        need = math.ceil(fraction * recoverable - 1e-9)
        for t, n in self.times:
            if n >= need:
                return t
        return None


def replay(who: str, p: Pattern, reads, wall_s: float, error_delay_s: float | None = None) -> Outcome:
    """Charge a sequence of (lba, count, ok) reads; track recovered sectors."""
    clock = Clock(p.family, p.sectors, error_delay_s)
    got = bytearray(p.sectors)
    n, failed, times = 0, 0, []
    for lba, count, ok in reads:
        t = clock.read(lba, count, ok)
        if not ok:
            failed += 1
            continue
        new = count - sum(got[lba:lba + count])
        if new:
            got[lba:lba + count] = b"\x01" * count
            n += new
            times.append((t, n))
    return Outcome(who, times, failed, clock.t, n, wall_s)


# -- the runners ----------------------------------------------------------------------------------------
def run_acquire(p: Pattern, strategy: str, work: Path) -> Outcome:
    trace = work / f"{strategy}.trace"
    profile = work / f"{strategy}.toml"
    write_profile(profile, p, trace)
    image = work / f"{strategy}.iso"
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "acquire", "image", f"sim:{profile}", str(image), "--json",
                           "--strategy", strategy], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.monotonic() - t0
    if done.returncode not in (0, 3):
        raise SystemExit(f"acquire failed on {p.name}: {done.stderr.strip()}")
    out = json.loads(done.stdout)
    reads = []
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0] != "speed":
                reads.append((int(parts[0]), int(parts[1]), parts[2] == "ok"))
    o = replay(f"acquire {strategy}", p, reads, wall)
    unreadable = {lba for a, b in out["unreadable_ranges"] for lba in range(a, b + 1)}
    if unreadable != p.bad:
        print(f"  !! {strategy}: unreadable set differs from the truth: {len(unreadable ^ p.bad)} sectors",
              file=sys.stderr)
    if abs(out["elapsed_s"] - o.total_s) > 1e-3 * max(1.0, o.total_s):
        print(f"  !! {strategy}: recomputed clock {o.total_s:.1f} s, acquire said {out['elapsed_s']:.1f} s",
              file=sys.stderr)
    for path in (trace, profile, image):
        path.unlink(missing_ok=True)
    for extra in work.glob(f"{strategy}.iso*"):
        extra.unlink()
    return o


def run_ddrescue(p: Pattern, work: Path) -> Outcome:
    t0 = time.monotonic()
    return replay("ddrescue -r1", p, ddrescue_reads(p, work), time.monotonic() - t0)


MAX_STAGES = 5000


def ddrescue_reads(p: Pattern, work: Path, retries: int = 1) -> list[tuple[int, int, bool]]:
    """ddrescue -b 2048 -r`retries`, with flaky sectors as stages: a flaky sector is bad in the test map
    until it has been read as often as it fails; the stage is cut at that read, the mapfile
    rebuilt from the reads so far, and ddrescue resumes from it. The reads, in order."""
    mapfile, log = work / "dd.map", work / "dd.log"
    size = p.sectors * SECTOR
    reads: list[tuple[int, int, bool]] = []
    attempts = {lba: 0 for lba in p.flaky}
    mapfile.unlink(missing_ok=True)
    stage = 0
    while True:
        failing = sorted(lba for lba, f in p.flaky.items() if attempts[lba] < f)
        testmap = work / "dd.test"
        bad = ranges(p.bad | set(failing))
        lines = ["0x00000000 ?", "#      pos        size  status"]
        pos = 0
        for a, b in bad:
            if a > pos:
                lines.append(f"0x{pos * SECTOR:08X}  0x{(a - pos) * SECTOR:08X}  +")
            lines.append(f"0x{a * SECTOR:08X}  0x{(b - a + 1) * SECTOR:08X}  -")
            pos = b + 1
        if pos < p.sectors:
            lines.append(f"0x{pos * SECTOR:08X}  0x{(p.sectors - pos) * SECTOR:08X}  +")
        # one good sector past the end (-s keeps ddrescue from reading it): ddrescue 1.27 takes a
        # test map that ends in a bad area as the end of the input there, and never reads the last
        # bad run (measured: edge rot to the last sector, 196 sectors never read, 589 read errors
        # where it makes 1,185 with this line); a drive answers those sectors with errors, not EOF
        lines.append(f"0x{p.sectors * SECTOR:08X}  0x{SECTOR:08X}  +")
        testmap.write_text("\n".join(lines) + "\n")
        log.unlink(missing_ok=True)
        cmd = ["ddrescue", "-b", "2048", f"-r{retries}", "-s", str(size), f"--test-mode={testmap}",
               f"--log-reads={log}", "-f", "/dev/zero", "/dev/null", str(mapfile)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode not in (0, 1):
            raise SystemExit(f"ddrescue failed: {done.stderr.strip()}")
        phases: list = []
        stage_reads = parse_ddrescue_log(log, phases)
        # a flaky sector reads once it has failed f times: the test map is wrong from the first read
        # that touches it after that; cut the stage before that read (and its ddrescue read) and
        # rerun from there. Reads of other sectors in between are not affected, so one stage
        # takes every change that nothing reads again before the cut.
        cut = None
        seen: dict[int, int] = {}
        for i, (lba, count, ok) in enumerate(stage_reads):
            hit = _reached(failing, lba, count, ok, ECC_SECTORS[p.family])
            if any(seen.get(f, attempts[f]) >= p.flaky[f] for f in hit):
                cut = i
                break
            for f in hit:
                seen[f] = seen.get(f, attempts[f]) + 1
        if cut is None:
            reads += stage_reads
            break
        while cut > 0 and phases[cut - 1][3] == phases[cut][3]:     # the whole of that ddrescue read
            cut -= 1
        reads += stage_reads[:cut]
        for lba, count, ok in stage_reads[:cut]:
            for f in _reached(failing, lba, count, ok, ECC_SECTORS[p.family]):
                attempts[f] += 1
        # restart from the map as it was before read `cut`: rebuild it from the reads so far
        write_map_after(mapfile, p, reads, phases[cut][:3])
        stage += 1
        if stage > MAX_STAGES:
            print(f"  !! ddrescue on {p.name}: stopped after {MAX_STAGES} stages", file=sys.stderr)
            break
    for path in (mapfile, log, work / "dd.test"):
        path.unlink(missing_ok=True)
    return reads


def _reached(failing: list[int], lba: int, count: int, ok: bool, unit: int = 1) -> list[int]:
    """The flaky sectors (of sorted `failing`) a read reached, as the simulated drive counts them: a
    drive ends a READ at its first bad sector, so a failed read reaches its sectors up to that one and
    no further, and a DVD or BD drive decodes whole ECC blocks of `unit` sectors, so it reaches every
    sector of each block it read in. parse_ddrescue_log starts each failed read at the sector the
    test map has bad (what ddrescue copied before it is a read of its own), so a failed read
    reaches its first sector's block only."""
    start, end = block_span(lba, lba + count - 1 if ok else lba, unit)
    return failing[bisect.bisect_left(failing, start):bisect.bisect_left(failing, end)]


def write_map_after(mapfile: Path, p: Pattern, reads, resume=("?", 1, 0)) -> None:
    """A ddrescue mapfile for the state after `reads`: finished where read; where failed,
    bad-sector ('-') for a read of one sector, non-scraped ('/') for a longer one; `resume`: the
    (status, pass, position) ddrescue goes on from, so that a stage cut in the middle of a pass
    does not start its passes (and its retries) again. (Non-trimmed,
    '*', is what ddrescue's copy pass writes, but ddrescue 1.27 resumed from such a map trims
    and then goes straight to retrying, leaving them unscraped: measured, 2026-12.)"""
    state = bytearray(b"?" * p.sectors)
    for lba, count, ok in reads:
        if ok:
            state[lba:lba + count] = b"+" * count
        else:
            for i in range(lba, lba + count):
                if state[i] != ord("+"):
                    state[i] = ord("-") if count == 1 else ord("/")
    status, pass_no, pos = resume
    lines = ["# Mapfile. Created by rescue_race", f"0x{pos:08X}     {status}               {pass_no}",
             "#      pos        size  status"]
    for m in re.finditer(rb"(.)\1*", bytes(state), re.S):
        start, n = m.start(), m.end() - m.start()
        lines.append(f"0x{start * SECTOR:08X}  0x{n * SECTOR:08X}  {chr(state[start])}")
    mapfile.write_text("\n".join(lines) + "\n")


_LOG_LINE = re.compile(r"^0x([0-9A-Fa-f]+)\s+(\d+)\s+(\d+)\s+(\d+)")


_PHASE = re.compile(r"^#.*(Copying|Trimming|Scraping|Retrying)\D*(\d+)?.*\((forwards|backwards)\)")
_STATUS = {"Copying": "?", "Trimming": "*", "Scraping": "/", "Retrying": "-"}


def parse_ddrescue_log(log: Path, phases: list | None = None) -> list[tuple[int, int, bool]]:
    """--log-reads lines: 'pos(hex) size copied_size error_size' (bytes). A read that copied less
    than its size failed; what it copied came before the bad sector (a drive would fail the whole
    READ, so it is charged as a good read of those sectors and a failed one of the rest).
    `phases`, when given, gets for each read the mapfile's (status, pass, position) that resumes
    ddrescue with that read, and the number of the log line it came from."""
    reads = []
    if not log.exists():
        return reads
    phase = ("?", 1, True)
    for line_no, line in enumerate(log.read_text().splitlines()):
        m = _LOG_LINE.match(line)
        if not m:
            h = _PHASE.match(line)
            if h:
                phase = (_STATUS[h.group(1)], int(h.group(2) or 1), h.group(3) == "forwards")
            continue
        pos, size, copied = int(m.group(1), 16), int(m.group(2)), int(m.group(3))
        lba, count = pos // SECTOR, max(1, size // SECTOR)
        after = (phase[0], phase[1], pos if phase[2] else pos + size, line_no)
        if copied == size:
            reads.append((lba, count, True))
        else:
            good = copied // SECTOR
            if good:                      # a read that stopped at the bad sector: as two commands
                reads.append((lba, good, True))
                if phases is not None:
                    phases.append(after)
            reads.append((lba + good, count - good, False))
        if phases is not None:
            phases.append(after)
    return reads


def run_oracle(p: Pattern) -> Outcome:
    reads = []
    for a, b in ranges(set(range(p.sectors)) - p.bad if p.sectors < 100_000 else _good_runs(p)):
        for s in range(a, b + 1, 32):
            reads.append((s, min(32, b + 1 - s), True))
    return replay("oracle", p, reads, 0.0)


def _good_runs(p: Pattern):
    bad = sorted(p.bad)
    pos = 0
    for x in bad:
        if x > pos:
            yield from range(pos, x)
        pos = x + 1
    yield from range(pos, p.sectors)


# -- the table -------------------------------------------------------------------------------------------
def fmt_s(s: float | None) -> str:
    if s is None:
        return "never"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.0f} s"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.3f}" if a / b < 10 else f"{a / b:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="discs a tenth of the size, four patterns")
    ap.add_argument("--only", help="run only the patterns whose name contains this")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    ap.add_argument("--no-linear", action="store_true", help="skip acquire's linear engine")
    args = ap.parse_args()
    patterns = [p for p in make_patterns(args.quick) if not args.only or args.only in p.name]
    print(f"{'pattern':<18} {'who':<18} {'99 %':>9} {'99.9 %':>9} {'100 %':>9} {'failed':>7} "
          f"{'end':>9}  {'/dd 99.9':>8} {'/dd 100':>8} {'/oracle 99.9':>12}")
    work = Path(tempfile.mkdtemp(prefix="rescue_race."))
    try:
        for p in patterns:
            print(f"{p.name}: {p.sectors:,} sectors, {len(p.bad):,} unreadable, {len(p.flaky)} flaky", flush=True)
            # ddrescue beside one acquire run (each a subprocess); one image at a time: a full DVD
            # image is 4.7 GB
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                dd = pool.submit(run_ddrescue, p, work)
                results = [run_oracle(p), None, run_acquire(p, "adaptive", work)]
                if not args.no_linear and len(p.bad) < LINEAR_UP_TO:
                    results.append(run_acquire(p, "linear", work))
                results[1] = dd.result()
            oracle, dd = results[0], results[1]
            for o in results:
                t = [o.time_to(f, p.recoverable) for f in (0.99, 0.999, 1.0)]
                td = [dd.time_to(f, p.recoverable) for f in (0.999, 1.0)]
                to = oracle.time_to(0.999, p.recoverable)
                print(f"{'':<18} {o.who:<18} {fmt_s(t[0]):>9} {fmt_s(t[1]):>9} {fmt_s(t[2]):>9} "
                      f"{o.failed_reads:>7,} {fmt_s(o.total_s):>9}  {ratio(t[1], td[0]):>8} {ratio(t[2], td[1]):>8} "
                      f"{ratio(t[1], to):>12}   (wall {o.wall_s:.0f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
