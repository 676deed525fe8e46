"""The `acquire` command: parse, call one library function, render. Errors meet the user only here."""
from __future__ import annotations

import dataclasses
import errno
import json
import shlex
import sys
from pathlib import Path

import click

from . import __version__
from .errors import AcquireError, UsageError
from .rescue import STRATEGIES
from .rescue.budget import UNTIL, parse_duration


class Cli(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AcquireError as exc:            # the only place an error meets the user
            click.echo(f"acquire: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:                 # a file we were told to write (or read) and could not
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"acquire: cannot use{where} ({exc.strerror or exc}); "
                       f"{'free space, then' if full else 'check the path, then'} run the same command again",
                       err=True)
            ctx.exit(4 if full else 1)
        except KeyboardInterrupt:
            click.echo("acquire: interrupted", err=True)
            ctx.exit(4)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="acquire")
def cli() -> None:
    """Image optical discs sector by sector, with a chain-of-custody record."""


@cli.command("drives")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def drives_command(as_json: bool) -> None:
    """List the optical drives on this machine.   Example: acquire drives --json"""
    from .drive.discovery import find_drives

    found = find_drives()
    if as_json:
        click.echo(json.dumps({"drives": [dataclasses.asdict(d) for d in found]}, indent=2))
        return
    if not found:
        click.echo("no optical drives found")
        return
    for d in found:
        click.echo(f"{d.block or '-':10} {d.sg or '-':10} {d.vendor} {d.model} {d.revision}"
                   f"  serial {d.serial or 'unknown'}  media {d.media or 'none'}  ({d.source})")


@cli.command("info")
@click.argument("device")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def info_command(device: str, as_json: bool) -> None:
    """Show the drive and the disc in it.   Example: acquire info /dev/sr0"""
    from .info import disc_info, layout_lines

    info = disc_info(device)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    d, m = info["drive"], info["medium"]
    click.echo(f"drive    {d['vendor']} {d['product']} {d['revision']}  serial {d['serial'] or 'unknown'}")
    click.echo(f"medium   {m['profile_name']} (profile {m['profile']:04X}h)")
    click.echo(f"capacity {m['capacity']} sectors, {m['capacity_bytes']} bytes")
    for t in m["toc"]:
        label = "lead-out" if t["track"] == 0xAA else f"track {t['track']}"
        click.echo(f"toc      {label:9} at LBA {t['start_lba']}  control {t['control']:X}")
    if m["disc_information"]:
        click.echo(f"status   {m['disc_status']}")
    click.echo(f"volume   {m['volume_label'] if m['volume_label'] is not None else '(no ISO 9660 volume descriptor)'}")
    for line in layout_lines(info["layout"]):
        click.echo(line)
    for f in info["fallbacks"]:
        click.echo(f"note     the drive refused {f}")


def _duration(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("image")
@click.argument("device")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), help="Record path (default IMAGE.custody.sqlite).")
@click.option("--case", "case_id", help="Case identifier.")
@click.option("--evidence", "evidence_id", help="Evidence item identifier.")
@click.option("--examiner", help="Examiner's name.")
@click.option("--notes", help="Free-text notes for the record.")
@click.option("--retries", type=int, default=1, show_default=True, help="Retry passes over bad sectors.")
@click.option("--no-trim", is_flag=True, help="Skip trimming failed blocks from their edges.")
@click.option("--no-scrape", is_flag=True, help="Skip reading damaged areas sector by sector.")
@click.option("--speed", help="Read speed: a number (times 1x) or 'max'.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=STRATEGIES[0], show_default=True,
              help="How to rescue damaged areas; linear: ddrescue's phases.")
@click.option("--sign-key", metavar="KEY",
              help="Sign the seal (IMAGE.seal.json) with an Ed25519 key: an OpenSSH key file without passphrase, "
                   "'agent:' (ssh-agent's first Ed25519 key) or 'agent:SHA256:...'. Default: $ACQUIRE_SIGN_KEY; "
                   "without either the seal is unsigned.")
@click.option("--second-read", is_flag=True,
              help="After the passes, read again (past the drive's cache) every sector that failed, was marginal "
                   "or slow, and keep it only if both reads agree; a sector that differs is unstable: zero-filled, read again by the next run.")
@click.option("--no-validate", is_flag=True,
              help="Do not run `acquire validate` (readers, mount, boot) at the end; also ACQUIRE_NO_VALIDATE=1.")
@click.option("--incremental-from", "incremental_from", type=click.Path(dir_okay=False, path_type=Path),
              help="The record of an earlier acquisition of this disc: sessions appended since are read, the "
                   "earlier ones copied from its image after a sample is compared with the disc.")
@click.option("--max-drive-time", "max_drive_time", metavar="DURATION", callback=_duration,
              help="Stop once the drive has worked this long in this run (90m, 2h, 30s); the map keeps the rest "
                   "as not tried and the same command goes on.")
@click.option("--until", type=click.Choice(UNTIL),
              help="good: stop when only sectors the rescue predicts unreadable remain (not tried, listed in the report).")
@click.option("--no-hygiene", is_flag=True,
              help="No retry hygiene: no FUA on re-reads, no cache flush, pause or speed change before retries, "
                   "no confused-drive check.")
@click.option("--read-offset", "read_offset", type=click.IntRange(-2940, 2940), metavar="SAMPLES",
              help="Audio CDs: the drive's read offset correction in samples (AccurateRip's sign). Default: the "
                   "earlier record of this drive, else the shipped table, else 0 (recorded as unknown).")
@click.option("--read-offset-from", "read_offset_from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="RECORD", help="Audio CDs: take the read offset from the record of an earlier acquisition "
                                     "with this drive (refused when it holds none for this drive).")
@click.option("--audio-agree", "audio_agree", type=click.IntRange(2, 16), default=2, show_default=True,
              help="Audio CDs: reads that must agree on every sample, with a cache defeat between.")
@click.option("--audio-budget", "audio_budget_s", type=click.FloatRange(0), default=600.0, show_default=True,
              metavar="SECONDS", help="Audio CDs: stop re-reading a track after this long (its samples stay unresolved).")
@click.option("--flac", is_flag=True, help="Audio CDs: a FLAC (Debian's flac, verified) beside each track's WAV.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--yes", is_flag=True, help="Never prompt (acquire does not prompt today; kept for scripts).")
def image_command(device, image, record, case_id, evidence_id, examiner, notes, retries, no_trim, no_scrape,
                  speed, strategy, sign_key, second_read, incremental_from, no_validate, max_drive_time, until,
                  no_hygiene, read_offset, read_offset_from, audio_agree, audio_budget_s, flac, as_json,
                  yes) -> None:
    """Image DEVICE sector by sector into IMAGE; run again to resume.

    Example: acquire image /dev/sr0 disc.iso --case 2026-114 --examiner "A. Smith" --sign-key agent:
    """
    from .api import ImageOptions, acquire_image
    from .progress import ProgressLine

    options = ImageOptions(record=record, case_id=case_id, evidence_id=evidence_id, examiner=examiner,
                           notes=notes, retries=retries, trim=not no_trim, scrape=not no_scrape, speed=speed, strategy=strategy,
                           command=shlex.join(["acquire", *sys.argv[1:]]), sign_key=sign_key,
                           second_read=second_read, incremental_from=incremental_from,
                           max_drive_time_s=max_drive_time, until=until, hygiene=not no_hygiene,
                           read_offset=read_offset, read_offset_from=read_offset_from, audio_agree=audio_agree,
                           audio_budget_s=audio_budget_s, flac=flac)
    with ProgressLine(enabled=sys.stderr.isatty()) as progress:
        outcome = acquire_image(device, image, options, on_progress=progress.update)
    validation = _validate_after_image(outcome, no_validate)
    if as_json:
        click.echo(json.dumps({**outcome.as_json(), **({"validation": validation.as_json()} if validation else {})},
                              indent=2))
    else:
        _render_outcome(outcome)
        if validation is not None:
            _render_validation(validation)
    if outcome.message:
        click.echo(f"acquire: {outcome.message}", err=True)
    raise SystemExit(outcome.exit_code)


def _render_outcome(o) -> None:
    click.echo(f"{o.status}: {o.recovered} of {o.sectors} sectors read, {o.unreadable} unreadable"
               f"{f', {o.not_recorded} not recorded (no data there by design)' if o.not_recorded else ''}"
               f"{' (resumed)' if o.resumed else ''}")
    for first, last in o.unreadable_ranges[:20]:
        click.echo(f"  unreadable {first}-{last}" if last != first else f"  unreadable {first}")
    if len(o.unreadable_ranges) > 20:
        click.echo(f"  ... {len(o.unreadable_ranges) - 20} more ranges (acquire map RECORD --export-ddrescue FILE)")
    if o.stop_reason != "done" and o.status != "interrupted":
        click.echo(f"stopped {o.stop_reason}; not tried: {sum(b - a + 1 for a, b in o.not_tried)} sectors in "
                   f"{len(o.not_tried)} ranges (run the same command to go on)")
    if o.second_read is not None:
        sr = o.second_read
        click.echo(f"second read: {sr.re_read} sectors, {sr.confirmed} agreed, {len(sr.unstable)} unstable"
                   f"{f', {len(sr.unconfirmed)} failed' if sr.unconfirmed else ''}")
    for name, value in o.hashes.items():
        click.echo(f"{name:7} {value}")
    click.echo(f"image   {o.image}\nrecord  {o.record}\nchain   {o.head_hash}")
    if o.seal is not None:
        click.echo(f"seal    {o.seal.path}  code {o.seal.code}")
        click.echo(f"signed  {o.seal.fingerprint} ({o.seal.signature})" if o.seal.fingerprint
                   else "signed  no: unsigned (give --sign-key or set ACQUIRE_SIGN_KEY)")
    if o.audio is not None:
        a = o.audio
        click.echo(f"audio   {a['bin']} + .cue, read offset {a['read_offset']:+d} ({a['offset_source']}), "
                   f"{a['unresolved_samples']} samples unresolved; MusicBrainz {a['musicbrainz_id']}")
        for u in a["unresolved"][:20]:
            click.echo(f"  track {u['track']:02d} {u['time']} samples {u['first_sample']}-{u['last_sample']} {u['reason']}")
    click.echo(f"drive time {o.elapsed_s:.1f} s")


@cli.command("report")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write FILE: .html, .md, .json, .xml (DFXML) or .log (an audio CD's rip log), by extension. Without it: JSON on stdout.")
@click.option("--extract-boot", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Also copy each El Torito boot image out of the image into DIR.")
def report_command(record: Path, output: Path | None, extract_boot: Path | None) -> None:
    """Report on an acquisition: case, drive, medium, hashes, damage, damaged files, maps.

    Example: acquire report disc.iso.custody.sqlite -o disc-report.html
    """
    from .report import build_report, render, write_report

    if output is None:
        if extract_boot is not None:
            raise UsageError("--extract-boot needs -o FILE", hint="e.g. -o report.html --extract-boot boot/")
        click.echo(render(build_report(record), "json"))
        return
    written = write_report(record, output, extract_boot=extract_boot)
    click.echo(f"wrote {written}")


@cli.command("map")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--export-ddrescue", "export", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the sector map as a GNU ddrescue mapfile.")
def map_command(record: Path, export: Path) -> None:
    """Export the sector map.   Example: acquire map disc.iso.custody.sqlite --export-ddrescue disc.map"""
    from .mapexport import export_ddrescue

    export_ddrescue(record, export)


@cli.command("export")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--e01", is_flag=True, help="Write an EnCase 6 E01 (needs libewf2) with the case, drive, hashes and "
              "unreadable ranges from the record.")
@click.option("--compress", type=click.Choice(["none", "fast", "best"]), default="fast", show_default=True,
              help="E01 chunk compression (deflate).")
@click.option("--segment-size", metavar="SIZE", default="1500M", show_default=True,
              help="Largest E01 segment file: bytes, or with K, M, G; more segments are .E02, .E03 ...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The first segment, NAME.E01 (default: beside the image, IMAGE without .iso + .E01).")
@click.option("--bag", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write a BagIt 1.0 bag at DIR: image, record, seal, sums and reports, sha512 and sha256 manifests.")
@click.option("--source-organization", metavar="NAME",
              help="The bag's Source-Organization (default: $ACQUIRE_SOURCE_ORGANIZATION).")
@click.option("--no-link", is_flag=True, help="Copy the image into the bag even where a hard link would do.")
@click.option("--encrypt-to", "encrypt_to", multiple=True, metavar="RECIPIENT",
              help="Also write an age-encrypted transport copy (the bag as DIR.tar.age, else each E01 segment "
                   "as .age) for this age1... or ssh-ed25519/ssh-rsa recipient; repeat for several.")
@click.option("--recipients-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
              help="More recipients, one a line (as age -R reads them).")
@click.option("--no-record", is_flag=True, help="Do not append an 'export' event to the record (it stays unchanged).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def export_command(record: Path, e01: bool, compress: str, segment_size: str, output: Path | None, bag: Path | None,
                   source_organization: str | None, no_link: bool, encrypt_to: tuple[str, ...],
                   recipients_file: Path | None, no_record: bool, as_json: bool) -> None:
    """Export an acquisition as an E01 set, a BagIt bag, and age-encrypted transport copies; the image
    is only read, and the record gains one chained 'export' event saying what was written.

    Example: acquire export disc.iso.custody.sqlite --e01 --bag disc-bag --encrypt-to age1...
    """
    from .export import E01Options, export, parse_size
    from .export.encrypt import read_recipients

    recipients = list(encrypt_to) + (read_recipients(recipients_file) if recipients_file else [])
    options = E01Options(output=output, compression=compress, segment_bytes=parse_size(segment_size)) if e01 else None
    results = export(record, e01=options, bag=bag, encrypt_to=recipients, source_organization=source_organization,
                     link=not no_link, record_result=not no_record)
    if as_json:
        out = {"recorded": results["recorded"]}
        if "e01" in results:
            out["e01"] = results["e01"].as_json()
        if "bag" in results:
            out["bag"] = str(results["bag"])
        if "encrypted" in results:
            out["encrypted"] = [e.as_json() for e in results["encrypted"]]
        click.echo(json.dumps(out, indent=2))
        return
    if "e01" in results:
        result = results["e01"]
        mb_s = result.image_bytes / result.seconds / 1e6 if result.seconds else 0.0
        click.echo(f"wrote {result.segments[0]}" + (f" .. {result.segments[-1].suffix[1:]} ({len(result.segments)} segments)"
                                                    if len(result.segments) > 1 else ""))
        click.echo(f"  {result.written_bytes} bytes for {result.image_bytes} image bytes (ratio {result.ratio:.3f}), "
                   f"{mb_s:.1f} MB/s; {len(result.acquiry_errors)} acquiry error ranges; MD5 and SHA-1 checked against the record")
    if "bag" in results:
        click.echo(f"wrote bag {results['bag']} (BagIt 1.0, sha512 and sha256 manifests)")
    for copy in results.get("encrypted", []):
        click.echo(f"wrote {copy.path} (age, {len(recipients)} recipient(s)); ciphertext sha256 {copy.sha256}")
    click.echo(results["recorded"])


@cli.command("verify")
@click.argument("record", type=click.Path(exists=True, path_type=Path))
@click.option("--source", metavar="DEVICE", help="Also re-read the disc in DEVICE and compare it with the image.")
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="PATH",
              help="Also compare the image sector by sector with another acquisition of the same disc or title: "
                   "its record (its map says what it read), or an image file.")
@click.option("--no-record", is_flag=True,
              help="Do not append the result to the record: open it read-only, leave its bytes unchanged.")
@click.option("--allowed-signers", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
              help="Trust the seal's signature only from a key in FILE (OpenSSH allowed_signers, as ssh-keygen -Y verify).")
@click.option("--identity", metavar="PRINCIPAL",
              help="With --allowed-signers: the principal the signer must be (ssh-keygen -Y verify -I).")
@click.option("--signer-fingerprint", metavar="SHA256:...", help="Trust the seal's signature only from this key.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def verify_command(record: Path, source: str | None, against: Path | None, no_record: bool, allowed_signers: Path | None,
                   identity: str | None, signer_fingerprint: str | None, as_json: bool) -> None:
    """Check the record, the seal file, its signature, the image (its hashes, and its size against every
    file system's declared size) and (with --source) the disc; append the result to the record. RECORD may also be a bag made by acquire export --bag: a full BagIt validation,
    then the record inside it (never appended to).

    Example: acquire verify disc.iso.custody.sqlite --allowed-signers allowed_signers --source /dev/sr0
    """
    from .verify import verify

    if record.is_dir():
        given = [name for name, value in (("--source", source), ("--against", against), ("--no-record", no_record),
                                          ("--allowed-signers", allowed_signers), ("--identity", identity),
                                          ("--signer-fingerprint", signer_fingerprint)) if value]
        if given:
            raise UsageError(f"{', '.join(given)} cannot be used on a bag: a bag is checked as it is, "
                             "and its record is never appended to", hint="verify the record itself for those")
        _verify_bag(record, as_json)

    if identity is not None and allowed_signers is None:
        raise UsageError("--identity needs --allowed-signers FILE", hint="e.g. --allowed-signers allowed_signers")
    result = verify(record, source=source, record_result=not no_record, allowed_signers=allowed_signers,
                    identity=identity, signer_fingerprint=signer_fingerprint, against=against)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        for check in result.checks:
            click.echo(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.summary}")
            for line in check.details:
                click.echo(f"     {line}")
        click.echo(result.recorded)
    raise SystemExit(result.exit_code)


def _validate_after_image(outcome, no_validate: bool):
    """`acquire validate` on a finished image (complete or partial), unless told not to."""
    from .validate import skip_requested, validate

    if no_validate or skip_requested() or outcome.status not in ("complete", "partial"):
        return None
    return validate(Path(outcome.record), image=Path(outcome.image))


def _render_validation(result) -> None:
    for check in result.checks:
        click.echo(check.line())
        for line in check.details[:60]:
            click.echo(f"     {line}")
    click.echo(result.recorded)


@cli.command("validate")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--boot/--no-boot", default=True, show_default=True,
              help="Boot each way the image claims to boot, in QEMU (-accel tcg), with a screenshot of each.")
@click.option("--mount/--no-mount", default=True, show_default=True,
              help="Mount the image read-only in a QEMU guest and compare the kernel's tree with the analysis.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, metavar="SECONDS",
              help="The most one boot may take before its outcome is classified from what was shown.")
@click.option("--no-record", is_flag=True, help="Do not append the result to the record (it stays unchanged).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def validate_command(record: Path, boot: bool, mount: bool, time_limit: float, no_record: bool, as_json: bool) -> None:
    """Check that the image works: independent readers (xorriso, The Sleuth Kit, 7-Zip, isoinfo, udfinfo) agree
    with the analysis, the kernel mounts it with the same files, and it boots; each check is recorded and sealed.
    Exits 0 when no check failed (a skipped check is not a failure), 1 otherwise.

    Example: acquire validate disc.iso.custody.sqlite --time-limit 60
    """
    from .validate import validate

    result = validate(record, boot=boot, mount=mount, time_limit_s=time_limit, record_result=not no_record)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        _render_validation(result)
    raise SystemExit(result.exit_code)


@cli.command("merge")
@click.argument("records", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "image", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The merged image to write (it must not exist).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), help="Record path (default IMAGE.custody.sqlite).")
@click.option("--case", "case_id", help="Case identifier (default: the first record's).")
@click.option("--evidence", "evidence_id", help="Evidence item identifier (default: the first record's).")
@click.option("--examiner", help="Examiner's name (default: the first record's).")
@click.option("--notes", help="Free-text notes for the record (default: the first record's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def merge_command(records, image, record, case_id, evidence_id, examiner, notes, as_json) -> None:
    """Merge acquisitions of copies of one pressing (or of one disc, imaged twice) into one image,
    each sector from a copy that read it; refused, with the evidence, unless the copies agree on
    capacity, TOC, profile, volume descriptor and every sector two of them read. Exit 3 when some
    sectors no copy read.

    Example: acquire merge copy1.iso.custody.sqlite copy2.iso.custody.sqlite -o title.iso
    """
    from .errors import MergeRefused
    from .merge import MergeOptions, merge

    options = MergeOptions(record=record, case_id=case_id, evidence_id=evidence_id, examiner=examiner, notes=notes,
                           command=shlex.join(["acquire", *sys.argv[1:]]))
    try:
        outcome = merge(list(records), image, options)
    except MergeRefused as exc:
        if as_json:
            click.echo(json.dumps({"status": "refused", "reason": str(exc), "details": exc.details}, indent=2))
        click.echo(f"acquire: refused: {exc}", err=True)
        for line in exc.details:
            click.echo(f"  {line}", err=True)
        raise SystemExit(exc.exit_code)
    if as_json:
        click.echo(json.dumps(outcome.as_json(), indent=2))
        raise SystemExit(outcome.exit_code)
    o = outcome
    click.echo(f"{o.status}: {o.finished} of {o.sectors} sectors from {len(o.sources)} copies; {o.agreed} agreed "
               f"in two or more copies, {o.single} from one copy only, {o.sectors - o.finished} read by no copy")
    for s in o.sources:
        click.echo(f"  copy {s['copy']} {s['record']}: gave {s['given']} sectors, {s['only_this_copy']} only it had "
                   f"(chain head {s['chain_head'][:16]}...)")
    for first, last in o.unread_ranges[:20]:
        click.echo(f"  unread {first}-{last}" if last != first else f"  unread {first}")
    for name, value in o.hashes.items():
        click.echo(f"{name:7} {value}")
    click.echo(f"image   {o.image}\nrecord  {o.record}\nchain   {o.head_hash}")
    if o.seal is not None:
        click.echo(f"seal    {o.seal.path}  code {o.seal.code}")
    click.echo(f"merged in {o.elapsed_s:.1f} s ({o.mb_per_s:.0f} MB/s)")
    raise SystemExit(o.exit_code)


@cli.command("analyze")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def analyze_command(record: Path) -> None:
    """Add the file-system analysis to a record that lacks it (an intact record only), and seal it.

    Example: acquire analyze disc.iso.custody.sqlite
    """
    from .fs.stored import ensure_analysis
    from .verify import image_of

    outcome = ensure_analysis(record, image_of(record))
    if outcome == "present":
        click.echo(f"{record} already holds its analysis; nothing changed")
    elif outcome == "added":
        click.echo(f"analysed {image_of(record)}; the analysis is in {record}, sealed")
    else:
        raise AcquireError(f"{record}: {outcome}")


@cli.command("batch")
@click.argument("queue", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The batch's folder: one folder a disc, manifest.csv, the batch log batch.sqlite. Run again to resume.")
@click.option("--changer", metavar="SPEC", help="sim:FILE (a simulated autoloader) or nimbie[:N] (a Nimbie NB21 over "
              "USB). Without it the operator is asked to insert each disc.")
@click.option("--drive", "drives", multiple=True, metavar="DEVICE",
              help="A drive the operator (or the Nimbie) feeds; repeat it for several drives at once.")
@click.option("--accept", "accept", default="complete", show_default=True, metavar="RULE",
              help="Which discs go to the accept pile: complete, partial or partial<=N (unreadable sectors), comma-separated.")
@click.option("--budget", "budget_s", type=float, default=4 * 3600.0, show_default=True, metavar="SECONDS",
              help="Each disc's time budget (a job's budget_s overrides it); then its run is stopped, resumable.")
@click.option("--stall", "stall_s", type=float, default=600.0, show_default=True, metavar="SECONDS",
              help="A drive that shows no progress for this long is hung: its disc is ended and rejected.")
@click.option("--max-hangs", type=int, default=2, show_default=True, metavar="N",
              help="A drive hung on N discs in a row takes no more (0: never retire a drive).")
@click.option("--examiner", help="Examiner's name for every disc (a job's own examiner wins).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout at the end.")
@click.option("--yes", is_flag=True, help="Never prompt: needs --changer, or a device named by each job of the queue.")
def batch_command(queue, output, changer, drives, accept, budget_s, stall_s, max_hangs, examiner, as_json, yes) -> None:
    """Image a queue of discs (a CSV or a folder of .toml jobs), each into its own folder, on every drive
    at once; a verdict and a pile for each disc, a manifest and a hash-chained batch log as it goes.
    Exit 0: every disc accepted; 3: some rejected; 4: stopped, run again to resume.

    Example: acquire batch shelf-12.csv -o shelf-12 --changer nimbie --drive /dev/sr0 --accept complete,partial<=32
    """
    from .batch import BatchOptions, load_queue, open_changer, parse_rule, run_batch
    from .batch.display import Display

    rule = parse_rule(accept)
    jobs = load_queue(queue)
    display_box = {}                        # the prompts go through the display, made just below
    the_changer = open_changer(changer, list(drives), yes=yes,
                               ask=None if yes else (lambda text: display_box["d"].ask(text)))
    try:
        names = [n for n, _ in the_changer.drives()]
        with Display(names) as display:
            display_box["d"] = display
            result = run_batch(jobs, the_changer, BatchOptions(output=output, rule=rule, budget_s=budget_s,
                               stall_s=stall_s, max_hangs=max_hangs, examiner=examiner, command=shlex.join(["acquire", *sys.argv[1:]])),
                               display)
    finally:
        the_changer.close()
    summary = {"manifest": str(result.manifest), "log": str(result.log), "verdicts": result.counts,
               "piles": result.piles, "unfinished": result.unfinished, "stopped": result.stopped,
               "elapsed_s": round(result.elapsed_s, 3)}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(", ".join(f"{n} {v}" for v, n in result.counts.items()) + f"; piles {result.piles}"
                   + (f"; {result.unfinished} unfinished" if result.unfinished else ""))
        click.echo(f"manifest {result.manifest}\nlog      {result.log}")
    if result.stopped:
        click.echo(f"acquire: batch stopped: {result.stopped}; run the same command to resume", err=True)
    raise SystemExit(result.exit_code)


@cli.command("extract")
@click.argument("record", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Write the files here, under their paths (never outside DIR, never over a file).")
@click.option("--filesystem", "kind", metavar="KIND",
              help="Only through this file system (iso9660, joliet, udf, hfs, hfsplus); default: the first naming each PATH.")
def extract_command(record: Path, paths: tuple[str, ...], out_dir: Path, kind: str | None) -> None:
    """Copy files out of the image by their extents, through any file system the analysis lists.

    Each file's SHA-256 and verdict are printed; sectors not read are named (they are zeros in the
    copy). Exit 3 when any file had unreadable sectors.   Example: acquire extract disc.iso.custody.sqlite /docs -o out/
    """
    from .fs.extract import extract_files
    from .verify import image_of

    done = extract_files(record, image_of(record), list(paths), out_dir, kind=kind)
    for e in done:
        click.echo(f"{e.sha256}  {e.verdict:9} {e.filesystem:8} {e.path} -> {e.target}")
        if e.unreadable:
            click.echo("    unreadable sectors (zeros in the copy): "
                       + ", ".join(f"{a}..{a + n - 1}" for a, n in e.unreadable))
    click.echo(f"{len(done)} files, {sum(1 for e in done if e.unreadable)} with unreadable sectors")
    raise SystemExit(3 if any(e.unreadable for e in done) else 0)


def _verify_bag(bag: Path, as_json: bool) -> None:
    from .export.bag import verify_bag

    problems = verify_bag(bag)
    if as_json:
        click.echo(json.dumps({"bag": str(bag), "ok": not problems, "problems": problems}, indent=2))
    else:
        click.echo(f"{'FAIL' if problems else 'PASS'} bag: " + (f"{len(problems)} problem(s)" if problems else
                   "BagIt full validation (every payload file hashed with every manifest), and the record inside it"))
        for line in problems:
            click.echo(f"     {line}")
    raise SystemExit(1 if problems else 0)


from .cli_collection import audit_command, catalogue_group  # noqa: E402  (the collection's verbs)

cli.add_command(catalogue_group)
cli.add_command(audit_command)


def main() -> None:
    cli(prog_name="acquire")
