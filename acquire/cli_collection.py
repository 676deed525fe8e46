"""The collection's verbs, `acquire catalogue add|list|search` and `acquire audit`, registered by cli.py.

Thin as cli.py is: parse, call acquire.catalogue / acquire.audit, render. Imports are inside the
commands so that `acquire --help` stays quick.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .errors import AcquireError, UsageError

CATALOGUE_ENV = "ACQUIRE_CATALOGUE"
DEFAULT_CATALOGUE = "catalogue.sqlite"
CATALOGUE_HELP = (f"The catalogue: a SQLite file, or postgresql://USER@HOST/DB for one several workstations share "
                  f"(default ${CATALOGUE_ENV}, else ./{DEFAULT_CATALOGUE}).")


def _location(given: str | None) -> str:
    return given or os.environ.get(CATALOGUE_ENV) or DEFAULT_CATALOGUE


@click.group("catalogue")
def catalogue_group() -> None:
    """Register records in a catalogue (SQLite, or a shared PostgreSQL), list it and search it.

    Example: acquire catalogue add shelf-3/ --catalogue archive.sqlite; datasette archive.sqlite
    --metadata archive.metadata.json
    """


@catalogue_group.command("add")
@click.argument("records", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--catalogue", "location", metavar="PATH|URL", help=CATALOGUE_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def catalogue_add(records, location: str | None, as_json: bool) -> None:
    """Register RECORDS (records, or directories searched for *.custody.sqlite): each is checked against its
    seal first, and its rows are derived from it. A record registered before is updated.

    Example: acquire catalogue add disc.iso.custody.sqlite shelf-3/
    """
    from .catalogue import Catalogue, derive, find_records

    found = find_records(records)
    if not found:
        raise UsageError("no records found (*.custody.sqlite)", hint="name records or directories holding them")
    done, refused = [], []
    with Catalogue.open(_location(location)) as catalogue:
        for path in found:
            try:
                done.append((path, catalogue.add(derive(path))))
            except AcquireError as exc:
                refused.append((path, str(exc)))
        where = catalogue.safe_location
    if as_json:
        click.echo(json.dumps({"catalogue": where, "added": [str(p) for p, s in done if s == "added"],
                               "updated": [str(p) for p, s in done if s == "updated"],
                               "refused": [{"record": str(p), "reason": r} for p, r in refused]}, indent=2))
    else:
        for path, status in done:
            click.echo(f"{status} {path}")
        for path, reason in refused:
            click.echo(f"refused {path}: {reason}", err=True)
        click.echo(f"{len(done)} registered, {len(refused)} refused, in {where}")
    raise SystemExit(1 if refused else 0)


LIST_COLUMNS = ("case_id", "evidence_id", "volume_label", "status", "unreadable_sectors", "sha256", "record_path")


def _render(rows: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"discs": rows}, indent=2, default=str))
        return
    for row in rows:
        click.echo("  ".join("-" if row.get(c) is None else str(row[c])[:16] if c == "sha256" else str(row[c])
                             for c in LIST_COLUMNS))
    click.echo(f"{len(rows)} disc(s)")


@catalogue_group.command("list")
@click.option("--catalogue", "location", metavar="PATH|URL", help=CATALOGUE_HELP)
@click.option("--damaged", is_flag=True, help="Only discs with unreadable sectors.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def catalogue_list(location: str | None, damaged: bool, as_json: bool) -> None:
    """List the catalogued discs: case, evidence, label, status, unreadable sectors, SHA-256, record.

    Example: acquire catalogue list --damaged --json
    """
    from .catalogue import Catalogue

    with Catalogue.open(_location(location), create=False) as catalogue:
        _render(catalogue.discs(damaged=damaged), as_json)


@catalogue_group.command("search")
@click.argument("term")
@click.option("--catalogue", "location", metavar="PATH|URL", help=CATALOGUE_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def catalogue_search(term: str, location: str | None, as_json: bool) -> None:
    """Discs whose case, evidence, examiner, label, path or a hash contains TERM (any case), or holding a
    damaged file whose path contains it, or read by a drive whose serial or product contains it.

    Example: acquire catalogue search CASE-2024-17
    """
    from .catalogue import Catalogue

    with Catalogue.open(_location(location), create=False) as catalogue:
        _render(catalogue.search(term), as_json)


@click.command("audit")
@click.argument("target", metavar="CATALOGUE_OR_DIR")
@click.option("--catalogue", "location", metavar="PATH|URL",
              help="With a directory: also record the audit in this catalogue (a catalogue TARGET is used itself).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="The resumable state and baseline (default DIR/.acquire-audit.json, or CATALOGUE.audit.json).")
@click.option("--workers", type=click.IntRange(1), help="Records verified at once (default: the CPU count).")
@click.option("--per-disk", type=click.IntRange(1), default=2, show_default=True,
              help="At most this many records read at once from one disk.")
@click.option("--no-record", is_flag=True, help="Do not append an 'audit' event to the records.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def audit_command(target: str, location: str | None, state: Path | None, workers: int | None, per_disk: int,
                  no_record: bool, as_json: bool) -> None:
    """Re-verify every image and record of a collection (every hash, the chain, the seal), in parallel, with a
    progress bar; a report of what changed since the last audit; each record gets a chained 'audit' event and
    the catalogue a row. Interrupted, the same command resumes. Exit 0 when everything checks, 1 otherwise.

    Example: acquire audit archive.sqlite      acquire audit /srv/discs --catalogue postgresql://acq@db/archive
    """
    from .audit import AuditProgress, run_audit

    progress = AuditProgress()
    try:
        report = run_audit(target, catalogue=location, state_path=state, workers=workers, per_disk=per_disk,
                           record=not no_record, progress=progress)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        for record, result in sorted(report.results.items()):
            if not result["ok"]:
                click.echo(f"FAIL {record}")
                for name, check in result["checks"].items():
                    if not check["ok"]:
                        click.echo(f"     {name}: {check['summary']}")
                        for line in check["details"]:
                            click.echo(f"       {line}")
        click.echo("changes since the last audit:" if report.changes else "no changes since the last audit")
        for line in report.changes:
            click.echo(f"  {line}")
        rate = report.bytes / report.elapsed_s / 1e6 if report.elapsed_s else 0.0
        click.echo(f"audit {report.audit_id}: {len(report.results)} records, {len(report.failed)} failed, "
                   f"{report.bytes / 1e6:.1f} MB in {report.elapsed_s:.1f} s ({rate:.0f} MB/s)"
                   + (f", {report.resumed} done before the resume" if report.resumed else ""))
    raise SystemExit(report.exit_code)
