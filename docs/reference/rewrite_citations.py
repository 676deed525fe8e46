"""Point every citation of the old field notes at docs/reference/ (docs/reference/README.md).

The field notes (an MMC guide, QEMU notes, a design page, the DFXML schema folder) lived outside
the repository; about 70 comments and docs cited them. This rewrites those citations, in place, to
the pages and section headings of docs/reference/. It is idempotent: a rewritten citation starts
with `docs/reference/`, which no rule matches again.

    python docs/reference/rewrite_citations.py                  # acquire/ tests/ benchmarks/ fixtures/ docs/
    python docs/reference/rewrite_citations.py docs fixtures --suffix .md --suffix .toml
    python docs/reference/rewrite_citations.py --check          # print what would change; exit 1 if anything

Run it from the checkout's root (or give paths). It prints one line per change,
`path:line: old -> new`, and a count at the end.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIRS = ("acquire", "tests", "benchmarks", "fixtures", "docs")
DEFAULT_SUFFIXES = (".py", ".md", ".toml")
SKIP_PARTS = {".venv", "__pycache__", ".git", "out", ".cache"}
# files that hold the old spellings on purpose: this script and the test that checks for them
SKIP_FILES = {Path("docs/reference/rewrite_citations.py"), Path("tests/test_docs.py")}

MMC, QEMU, CONTRACTS, DFXML, TEST_IMAGES = (f"docs/reference/{n}.md" for n in
                                            ("mmc", "qemu", "contracts", "dfxml", "test-images"))

# old section name -> heading in the new page (names not listed are kept as they are)
MMC_SECTIONS = {
    "Profiles": "Profiles and families",
    "Geometry": "Geometry and speeds",
    "sense table": "The sense table",
}
DESIGN_SECTIONS = {
    "The clock": (CONTRACTS, "The clock"),
    "The simulated drive's profile": (CONTRACTS, "The simulated drive's profile"),
    "Conventions": (CONTRACTS, "Read-only by construction"),
    "Contracts": (CONTRACTS, None),
}

# not preceded by a path character: `docs/reference/mmc.md` never matches `reference/mmc.md` again
_B = r"(?<![\w./-])"


def _mmc_section(match: re.Match) -> str:
    name = match.group("section")
    return f'{MMC} "{MMC_SECTIONS.get(name, name)}"'


def _design_section(match: re.Match) -> str:
    page, heading = DESIGN_SECTIONS.get(match.group("section"), (CONTRACTS, match.group("section")))
    return f'{page} "{heading}"' if heading else page


# (pattern, replacement), applied in order; the specific forms before the bare ones
RULES: list[tuple[re.Pattern, object]] = [
    # paths into the shared folder beside the checkout
    (re.compile(r"(?:docs/)?(?:\.\./)+shared/reference/(?P<name>mmc|qemu|test-images)\.md"),
     lambda m: f"docs/reference/{m.group('name')}.md"),
    (re.compile(_B + r"`?reference/dfxml/dfxml\.xsd`?"), f"`{DFXML}`"),
    (re.compile(_B + r"reference/dfxml/?(?![\w.])"), DFXML),
    # the MMC guide, with a section: `reference/mmc.md "X"`, `reference/mmc.md, "X"`
    (re.compile(_B + r'reference/mmc\.md,? "(?P<section>[^"]+)"'), _mmc_section),
    (re.compile(_B + r"reference/mmc\.md'?s? sense table"), f'{MMC} "The sense table"'),
    (re.compile(_B + r"reference/mmc\.md's spiral"), f'the spiral of {MMC} "Geometry and speeds"'),
    (re.compile(_B + r'reference/qemu\.md,? "(?P<section>[^"]+)"'), lambda m: f'{QEMU} "{m.group("section")}"'),
    (re.compile(_B + r"(?:reference/)?(?P<name>mmc|qemu|test-images)\.md(?![\w-])"),
     lambda m: f"docs/reference/{m.group('name')}.md"),
    # the design page
    (re.compile(_B + r'DESIGN\.md,? "(?P<section>[^"]+)"'), _design_section),
    (re.compile(_B + r"DESIGN\.md, (?P<section>Conventions)"), _design_section),
    (re.compile(_B + r"DESIGN\.md's clock"), f'the clock of {CONTRACTS} "The clock"'),
    (re.compile(_B + r"DESIGN\.md's formula"), f'the formula of {CONTRACTS} "The clock"'),
    (re.compile(_B + r"DESIGN\.md's key"), f'the key of {CONTRACTS} "The simulated drive\'s profile"'),
    (re.compile(_B + r"DESIGN\.md's example values"), 'the example values of docs/simulated-drive.md "The profile"'),
    (re.compile(_B + r"DESIGN\.md's list"), f'the list of {MMC} "Commands we send"'),
    (re.compile(r"subtree \(DESIGN\.md\)"), "subtree (docs/fs.md)"),
    (re.compile(r"zero-filled in the image \(DESIGN\.md\)"),
     f'zero-filled in the image ({CONTRACTS} "The image and the record")'),
    (re.compile(_B + r"DESIGN\.md(?![\w-])"), CONTRACTS),
]


def rewrite_text(text: str) -> str:
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    return text


def files(paths: list[Path], suffixes: tuple[str, ...]):
    for path in paths:
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in candidates:
            rel = p.resolve().relative_to(ROOT) if p.resolve().is_relative_to(ROOT) else p
            if p.suffix in suffixes and not SKIP_PARTS & set(rel.parts[:-1]) and rel not in SKIP_FILES:
                yield p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories (default: %(default)s)",
                        default=[ROOT / d for d in DEFAULT_DIRS])
    parser.add_argument("--suffix", action="append", dest="suffixes",
                        help="file name endings to rewrite (repeatable; default .py .md .toml)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if something would change")
    args = parser.parse_args(argv)
    suffixes = tuple(args.suffixes or DEFAULT_SUFFIXES)
    changed_files = changed_lines = 0
    for path in files(args.paths, suffixes):
        old = path.read_text(encoding="utf-8")
        new_lines, count = [], 0
        for number, line in enumerate(old.splitlines(keepends=True), 1):
            fixed = rewrite_text(line)
            if fixed != line:
                count += 1
                print(f"{path}:{number}: {line.strip()}\n    -> {fixed.strip()}")
            new_lines.append(fixed)
        if count:
            changed_files += 1
            changed_lines += count
            if not args.check:
                path.write_text("".join(new_lines), encoding="utf-8")
    verb = "would change" if args.check else "changed"
    print(f"{verb} {changed_lines} line(s) in {changed_files} file(s)")
    return 1 if args.check and changed_lines else 0


if __name__ == "__main__":
    sys.exit(main())
