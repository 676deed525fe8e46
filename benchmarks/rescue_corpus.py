"""The rescue race on a distribution: every damage kind of benchmarks/corpus.py, on many seeds per
family, through acquire adaptive, acquire linear, GNU ddrescue 1.27 and the oracle, for a drive
that takes 8 s and one that takes 30 s over a failed READ.

    nice -n 15 python benchmarks/rescue_corpus.py --seeds 30 --jobs 2            # scaled discs
    python benchmarks/rescue_corpus.py --kinds chord,smudge --families cd --seeds 5
    python benchmarks/rescue_corpus.py --full --seeds 2 --families cd,dvd-ecc    # full-size discs

Per (family, kind) it prints: seeds; the median and the worst ratio of acquire adaptive's drive
time to ddrescue's at 99 % and at 99.9 % of the recoverable sectors; the median of linear's ratio
at 99.9 %; the median ratio of adaptive to the oracle at 99.9 %; and the recovered sectors against
ddrescue's with the same retries (-r3, --retries 3): the least difference over the seeds and the
number of seeds where acquire recovered fewer. Both 8 s and 30 s come from one run of each
engine: neither engine's choices depend on what a failure costs, so each run's reads (from the
simulated drive's trace, ddrescue's --log-reads) are charged twice (benchmarks/rescue_race.py
Clock). Every acquire run is checked: its unreadable set must be exactly the profile's.

acquire runs in-process (acquire.drive.device.open_drive on the simulated drive, the engine with a
Sink that keeps nothing): the same engine and drive as `acquire image`, without the image, hashes
and record, which do not change a read. `--out FILE` writes every case's figures as JSON lines.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import rescue_race as race  # noqa: E402

# scaled discs, the inner part of each: ~1,100 turns of a CD, ~1,300 of a DVD, ~600 of a BD
SCALED = {"cd": 12_000, "dvd": 40_000, "bd": 40_000}
RETRIES = 3          # ddrescue -r3 and --retries 3: a flaky sector that fails 3 times is recoverable by both (its read alone and 3 retries reach it 4 times, also where no read of several reached it)
DELAYS = (8.0, 30.0)
FRACTIONS = (0.99, 0.999)


class NullSink:
    """The engine's Sink, keeping nothing: the reads are in the drive's trace."""

    def good(self, result, phase, pass_no): pass
    def failed(self, result, phase, pass_no, reason): pass
    def marginal(self, result, phase, pass_no, reason): pass
    def pass_started(self, phase, pass_no, direction): pass
    def pass_ended(self, phase, pass_no): pass
    def progress(self, smap, phase): pass


def profile_text(case: corpus.Case, trace: Path) -> str:
    lines = ["[drive]", 'serial = "CORPUS"', f'trace = "{trace}"', "", "[disc]",
             f'profile = "{corpus.PROFILE[case.disc.family]}"', f"sectors = {case.sectors}", "", "[timing]"]
    lines += [f"{k} = {v}" for k, v in race.TIMING.items()]
    for entry in case.damage_entries():
        lines += ["", "[[damage]]"] + [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
                                       for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def run_engine(case: corpus.Case, strategy: str, work: Path) -> tuple[list, set[int], float]:
    """(reads, unreadable set, the drive's own clock at 8 s) of one in-process acquire run."""
    from acquire.drive.device import open_drive
    from acquire.rescue import SectorMap, Settings, State, make_engine
    trace, profile = work / f"{strategy}.trace", work / f"{strategy}.toml"
    trace.unlink(missing_ok=True)
    profile.write_text(profile_text(case, trace))
    drive = open_drive(f"sim:{profile}")
    try:
        medium = drive.medium()
        smap = SectorMap(medium.capacity)
        settings = Settings.for_medium(medium.capacity, medium.ecc_sectors, medium.family, retries=RETRIES)
        make_engine(strategy, drive, smap, NullSink(), settings).run()
        clock = drive.clock_s
    finally:
        drive.close()
    reads = []
    with open(trace) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0] != "speed":
                reads.append((int(parts[0]), int(parts[1]), parts[2] == "ok"))
    bad = {lba for run in smap.runs_of(State.BAD) for lba in range(run.start, run.end)}
    trace.unlink(missing_ok=True)
    profile.unlink(missing_ok=True)
    return reads, bad, clock


def run_case(args: tuple[str, str, int, int]) -> dict:
    kind, family, seed, sectors = args
    case = corpus.make_case(kind, family, seed, sectors)
    bad, flaky = case.bad, case.flaky
    p = race.Pattern(case.name, case.disc.family, case.sectors, bad, flaky)
    out = {"kind": kind, "family": family, "seed": seed, "sectors": case.sectors, "medium": case.disc.medium,
           "unreadable": len(bad), "flaky": len(flaky), "note": case.note, "problems": []}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rescue_corpus.") as tmp:
        work = Path(tmp)
        runs = {"oracle": ([(s, min(32, b + 1 - s), True) for a, b in race.ranges(set(range(case.sectors)) - bad)
                            for s in range(a, b + 1, 32)], None)}
        for strategy in ("adaptive", "linear"):
            reads, got_bad, clock = run_engine(case, strategy, work)
            runs[strategy] = (reads, got_bad)
            if got_bad != bad:
                out["problems"].append(f"{strategy}: unreadable set differs by {len(got_bad ^ bad)} sectors")
            t8 = race.replay(strategy, p, reads, 0.0, 8.0).total_s
            if abs(t8 - clock) > 1e-3 * max(1.0, clock):
                out["problems"].append(f"{strategy}: recomputed clock {t8:.1f} s, the drive said {clock:.1f} s")
        runs["ddrescue"] = (race.ddrescue_reads(p, work, RETRIES), None)
    out["wall_s"] = time.monotonic() - t0
    for delay in DELAYS:
        res = {}
        for who, (reads, _) in runs.items():
            o = race.replay(who, p, reads, 0.0, delay)
            res[who] = {"t": [o.time_to(f, p.recoverable) for f in FRACTIONS], "recovered": o.recovered,
                        "failed": o.failed_reads, "end": o.total_s}
        out[f"{delay:g}s"] = res
    return out


# -- the table -----------------------------------------------------------------------------------
def _ratio(a, b):
    """a / b; a run that never gets there (None) is infinitely slow; both never: even."""
    if a is None:
        return 1.0 if b is None else float("inf")
    if b is None:
        return 0.0
    return a / b if b else (1.0 if not a else float("inf"))


def summarize(rows: list[dict], delay: float) -> list[str]:
    key = f"{delay:g}s"
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["kind"]), []).append(r)
    head = (f"{'family':<11}{'kind':<16}{'n':>3}  {'med 99':>7}{'worst 99':>9}  {'med 99.9':>8}{'worst 99.9':>11}"
            f"  {'lin 99.9':>8}  {'/oracle':>8}  {'recov-dd':>9}{'fewer':>6}")
    out = [f"-- a failed READ costs {delay:g} s; ratios are acquire adaptive / ddrescue -r{RETRIES} drive time "
           f"(lin: acquire linear / ddrescue) --", head]
    for (family, kind), rs in sorted(groups.items()):
        def col(i, who="adaptive"):
            return [_ratio(r[key][who]["t"][i], r[key]["ddrescue"]["t"][i]) for r in rs]
        r99, r999, lin = col(0), col(1), col(1, "linear")
        orc = [_ratio(r[key]["adaptive"]["t"][1], r[key]["oracle"]["t"][1]) for r in rs]
        diff = [r[key]["adaptive"]["recovered"] - r[key]["ddrescue"]["recovered"] for r in rs]
        out.append(f"{family:<11}{kind:<16}{len(rs):>3}  {_f(statistics.median(r99)):>7}{_f(max(r99)):>9}  "
                   f"{_f(statistics.median(r999)):>8}{_f(max(r999)):>11}  {_f(statistics.median(lin)):>8}  "
                   f"{_f(statistics.median(orc)):>8}  {min(diff):>+9,}{sum(d < 0 for d in diff):>6}")
    return out


def overall(rows: list[dict], delay: float) -> list[str]:
    """The goals' figures over every case at 99.9 %: geometric mean, cases above 1.0 and 1.1, the
    worst case, rows whose worst is at most 1.0, rows whose median is over 5 % above linear's."""
    key = f"{delay:g}s"
    ratios = [(_ratio(r[key]["adaptive"]["t"][1], r[key]["ddrescue"]["t"][1]), r) for r in rows]
    finite = [x for x, _ in ratios if 0 < x < float("inf")]
    worst, w = max(ratios, key=lambda xr: xr[0])
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["kind"]), []).append(r)
    ok_rows = sum(max(_ratio(r[key]["adaptive"]["t"][1], r[key]["ddrescue"]["t"][1]) for r in rs) <= 1.0
                  for rs in groups.values())
    behind = [f"{f}/{k}" for (f, k), rs in sorted(groups.items())
              if statistics.median(_ratio(r[key]["adaptive"]["t"][1], r[key]["ddrescue"]["t"][1]) for r in rs)
              > 1.05 * statistics.median(_ratio(r[key]["linear"]["t"][1], r[key]["ddrescue"]["t"][1]) for r in rs)]
    gmean = math.exp(sum(map(math.log, finite)) / len(finite)) if finite else float("nan")
    return [f"{len(rows)} cases at {delay:g} s: geometric mean of the 99.9 % ratios {gmean:.3f} "
            f"({len(rows) - len(finite)} never or zero left out); above 1.0: {sum(x > 1.0 for x, _ in ratios)}; "
            f"above 1.1: {sum(x > 1.1 for x, _ in ratios)}; worst {_f(worst)} ({w['family']} {w['kind']} seed "
            f"{w['seed']}); rows with worst <= 1.0: {ok_rows} of {len(groups)}; rows whose median is over 5 % "
            f"above linear's: {len(behind)}{' (' + ', '.join(behind) + ')' if behind else ''}"]


def markdown(rows: list[dict], delay: float) -> list[str]:
    """summarize() as a Markdown table."""
    lines = summarize(rows, delay)
    out = [f"A failed READ costs {delay:g} s:", "",
           "| family | kind | seeds | median 99 % | worst 99 % | median 99.9 % | worst 99.9 % | linear 99.9 % "
           "| / oracle 99.9 % | recovered - ddrescue (least) | seeds fewer |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for line in lines[2:]:
        out.append("| " + " | ".join(line.split()) + " |")
    return out


def _f(x: float) -> str:
    return "never" if x == float("inf") else f"{x:.3f}" if x < 10 else f"{x:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(corpus.KINDS))
    ap.add_argument("--families", default=",".join(corpus.FAMILIES))
    ap.add_argument("--full", action="store_true", help="full-size discs (slow: minutes a case)")
    ap.add_argument("--jobs", type=int, default=2, help="cases at once (default 2)")
    ap.add_argument("--out", help="write each case's figures here, one JSON object a line")
    ap.add_argument("--from", dest="from_files", nargs="+", help="print the tables of earlier --out files, running "
                    "nothing (a case in several counts once)")
    ap.add_argument("--markdown", action="store_true", help="the tables as Markdown (for docs/rescue.md)")
    args = ap.parse_args()
    if args.from_files:
        cases = {}
        for name in args.from_files:
            for line in open(name):
                r = json.loads(line)
                cases.setdefault((r["family"], r["kind"], r["seed"], r["sectors"]), r)
        rows = list(cases.values())
        print(f"{len(rows)} cases")
        for delay in DELAYS:
            print("\n".join((markdown if args.markdown else summarize)(rows, delay) + [""] + overall(rows, delay))
                  + "\n")
        return
    todo = []                      # seed by seed, so that a run cut short has every kind on as many seeds
    for s in range(args.first_seed, args.first_seed + args.seeds):
        for family in args.families.split(","):
            fam = corpus.MEDIA[corpus.FAMILIES[family][0][0]][0]
            sectors = corpus.FULL[fam] if args.full else SCALED[fam]
            todo += [(kind, family, s, sectors) for kind in args.kinds.split(",")]
    t0 = time.monotonic()
    rows = []
    out = open(args.out, "w") if args.out else None
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(run_case, todo):
            rows.append(r)
            for problem in r["problems"]:
                print(f"  !! {r['family']}/{r['kind']}/{r['seed']}: {problem}", file=sys.stderr, flush=True)
            if out:
                out.write(json.dumps(r) + "\n")
                out.flush()
    print(f"{len(rows)} cases ({'full-size' if args.full else 'scaled'} discs: "
          f"{', '.join(f'{k} {v:,}' for k, v in (corpus.FULL if args.full else SCALED).items())} sectors), "
          f"wall {time.monotonic() - t0:.0f} s on {args.jobs} worker(s)")
    for delay in DELAYS:
        print("\n".join(summarize(rows, delay) + overall(rows, delay)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
