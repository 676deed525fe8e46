"""Docs beside features, enforced (STYLE.md)."""
import importlib.util
import re
import sqlite3
import tomllib
from pathlib import Path

import pytest

from acquire.cli import cli
from acquire.drive.sim.profile import load_profile
from conftest import ROOT, run_acquire

DOCS = ROOT / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generator():
    return _load("make_cli_reference", DOCS / "make_cli_reference.py")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_documented(name):
    assert f"## acquire {name}" in (DOCS / "cli.md").read_text()


def test_the_cli_reference_is_what_help_prints_today():
    assert (DOCS / "cli.md").read_text() == _generator().reference(), "run python docs/make_cli_reference.py"


# --- docs/simulated-drive.md: every example profile is one the loader accepts -----------------------

def _toml_blocks(page: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", page.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(_toml_blocks(DOCS / "simulated-drive.md"))))
def test_every_toml_example_of_the_simulated_drive_page_loads_with_the_real_loader(index, tmp_path):
    block = _toml_blocks(DOCS / "simulated-drive.md")[index]
    data = tomllib.loads(block)
    image = data.get("disc", {}).get("image")
    if image:                                # room for every LBA the example's damage names
        with open(tmp_path / image, "wb") as f:
            f.truncate(16_000 * 2048)
    profile = load_profile(_write(tmp_path / "example.toml", block))
    assert profile.disc_profile == data["disc"]["profile"]
    assert len(profile.damage) == len(data.get("damage", []))
    assert len(profile.events) == len(data.get("event", []))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- docs/record.md: the names it shows are the ones a run writes ----------------------------------

@pytest.fixture(scope="module")
def damaged_records(fixtures_made, tmp_path_factory):
    """fixtures/damaged.toml imaged by each engine, with --speed so a setting is changed."""
    tmp = tmp_path_factory.mktemp("record-doc")
    records = {}
    for strategy in ("adaptive", "linear"):
        image = tmp / f"{strategy}.iso"
        run_acquire("image", f"sim:{fixtures_made / 'damaged.toml'}", image, "--strategy", strategy,
                    "--speed", "8", "--json", check_code=3)
        records[strategy] = sqlite3.connect(f"file:{image}.custody.sqlite?mode=ro", uri=True)
    yield records
    for conn in records.values():
        conn.close()


def _record_md_section(heading: str) -> str:
    text = (DOCS / "record.md").read_text()
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start:end if end != -1 else None]


def _row(table_text: str, first_cell: str) -> str:
    return next(line for line in table_text.splitlines() if line.startswith(f"| {first_cell} |"))


def test_record_md_names_each_engines_phases_in_the_order_a_run_writes_them(damaged_records):
    phases = _record_md_section("### Phases")
    for strategy, conn in damaged_records.items():
        row = next(line for line in phases.splitlines() if line.startswith(f"| `{strategy}`"))
        documented = re.findall(r"`([a-z]+)`", row.split("|")[2])
        written = []
        for (phase,) in conn.execute("SELECT phase FROM passes ORDER BY id"):
            if phase not in written:
                written.append(phase)
        assert documented[:len(written)] == written, strategy
        used = {p for table in ("passes", "damage", "provenance")
                for (p,) in conn.execute(f"SELECT DISTINCT phase FROM {table}")}
        assert used <= set(documented), strategy


def test_record_md_names_the_settings_a_run_changes_and_restores(damaged_records):
    table = _record_md_section("### settings").split("|---", 1)[1]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.M))
    written = {name for conn in damaged_records.values() for (name,) in conn.execute("SELECT name FROM settings")}
    assert written and written == documented


def test_record_md_damage_examples_are_values_a_run_writes(damaged_records):
    damage = _record_md_section("### damage")
    sense_names = {n for conn in damaged_records.values() for (n,) in conn.execute("SELECT sense_name FROM damage")}
    reasons = {r for conn in damaged_records.values() for (r,) in conn.execute("SELECT reason FROM damage")}
    senses = {s for conn in damaged_records.values() for (s,) in conn.execute("SELECT sense FROM damage")}
    assert re.findall(r"`([0-9A-F]{2}/[0-9A-F]{2}/[0-9A-F]{2})`", _row(damage, "`sense`"))[0] in senses
    named = re.findall(r"e\.g\. `([^`]+)`", _row(damage, "`sense_name`"))
    assert named and set(named) <= sense_names
    examples = re.findall(r"`([^`]+)`", _row(damage, "`reason`").split("e.g.", 1)[1])
    assert examples and set(examples) <= reasons, set(examples) - reasons


def test_record_md_lists_every_event_kind_a_run_writes(damaged_records):
    documented = set(re.findall(r"`([a-z-]+)`", _row(_record_md_section("### events"), "`kind`")))
    written = {k for conn in damaged_records.values() for (k,) in conn.execute("SELECT DISTINCT kind FROM events")}
    assert written <= documented, written - documented


# --- citations: docs/reference/FILE.md "Section" names a page and a heading that exist -----------

CITED_DIRS = ("acquire", "tests", "benchmarks", "fixtures", "docs")
CITATION = re.compile(r'docs/reference/([\w-]+\.md),? "([^"\n]+)"')
# the old spellings: a path into the field notes outside the repository, or the design page
OLD_CITATION = re.compile("|".join([
    r"(?<!docs/)\breference/",
    r"(?<![\w/.-])(?:mmc|qemu|test-images)\.md",
    r"\b" + "DESIGN" + r"\.md",
]))
# these two hold the old spellings on purpose
NOT_CITING = {ROOT / "tests" / "test_docs.py", DOCS / "reference" / "rewrite_citations.py"}


def _cited_files(suffixes=(".py", ".md", ".toml")):
    for name in CITED_DIRS:
        for path in sorted((ROOT / name).rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if (path.is_file() and path.suffix in suffixes and path not in NOT_CITING
                    and not parts & {".venv", "__pycache__", "out", ".cache"}):
                yield path


def _headings(page: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in page.read_text().splitlines() if line.startswith("#")}


def test_every_reference_citation_names_a_page_and_a_heading_that_exist():
    wrong = []
    for path in _cited_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for page, section in CITATION.findall(line):
                target = DOCS / "reference" / page
                if not target.is_file() or section not in _headings(target):
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {page} \"{section}\"")
    assert not wrong, "\n".join(wrong)


def _old_citations(suffixes) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for path in _cited_files(suffixes)
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
            if OLD_CITATION.search(line)]


def test_no_file_cites_the_field_notes_outside_the_repository():
    found = _old_citations((".py", ".md", ".toml"))
    assert not found, "run python docs/reference/rewrite_citations.py\n" + "\n".join(found)


def test_the_citation_rewrite_is_idempotent_and_leaves_nothing_old_behind():
    rewrite = _load("rewrite_citations", DOCS / "reference" / "rewrite_citations.py")
    for path in _cited_files():
        once = rewrite.rewrite_text(path.read_text(errors="replace"))
        assert rewrite.rewrite_text(once) == once, path
        left = [line for line in once.splitlines() if OLD_CITATION.search(line)]
        assert not left, (path, left)
        for page, section in CITATION.findall(once):
            assert section in _headings(DOCS / "reference" / page), (path, page, section)


def test_the_profile_table_in_docs_reference_mmc_is_the_code_s():
    from acquire.drive.profiles import PROFILES
    text = (DOCS / "reference" / "mmc.md").read_text()
    for code, prof in PROFILES.items():
        assert f"| {code:04X}h | {prof.name} | {prof.family or '- (not an optical disc)'} | {prof.layers} |" in text


def _conformance_tests() -> set[str]:
    import ast
    found = set()
    for path in sorted((ROOT / "tests" / "conformance").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        found |= {f"tests/conformance/{path.name}::{node.name}" for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return found


def test_the_conformance_matrix_names_exactly_the_tests_of_tests_conformance():
    named = set(re.findall(r"tests/conformance/test_\w+\.py::test_\w+", (DOCS / "conformance.md").read_text()))
    existing = _conformance_tests()
    assert named, "docs/conformance.md names no test"
    assert not named - existing, f"named in docs/conformance.md but not in tests/conformance: {sorted(named - existing)}"
    assert not existing - named, f"in tests/conformance but not in docs/conformance.md: {sorted(existing - named)}"
