"""The whole tool on a real kernel SCSI stack: QEMU (TCG) guests with emulated CD drives.

Two guests, each with several drives so that one boot serves many checks:

- clean:   scsi-cd (virtio-scsi, serial) + ide-cd (AHCI) + a DVD-sized sparse scsi-cd;
           drives, info against sg3_utils, clean images through /dev/sr* and /dev/sg*, a probe of
           every MMC command we use, and a loop mount of an acquired image.
- damaged: a scsi-cd and an ide-cd whose reads fail at chosen LBAs (blkdebug): sticky and once-only.

Run: python -m pytest tests/e2e -v -s   (docs/e2e.md). Skips, saying why, only where QEMU or the
Debian kernel package cannot be had.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness
from harness import SECTOR, DriveSpec

pytestmark = pytest.mark.e2e

# Bad LBAs sit inside file data, away from the volume descriptors and the end of the disc (the
# kernel and our own identity probe read there, and a once-only error would be spent on them).
STICKY = (700, 701, 1200)
FLAKY = (900,)
GUEST_TIMEOUT_S = 420


def say(text: str) -> None:
    print(f"[e2e] {text}", flush=True)


@pytest.fixture(scope="session")
def guest_platform() -> dict:
    try:
        info = harness.preflight()
    except harness.Unavailable as exc:
        say(f"SKIP: {exc}")
        pytest.skip(f"e2e needs QEMU and the Debian kernel package: {exc}")
    say(f"kernel {info['kernel']} ({info['vmlinuz'].name}), {info['qemu']}, accel tcg")
    return info


@dataclass(repr=False)
class Guest:
    result: harness.GuestResult
    drives: list[DriveSpec]

    def __repr__(self) -> str:
        return f"Guest({self.result.job}, {len(self.drives)} drives)"

    def out(self, name: str) -> str:
        return self.result.text(f"out/{name}.out")

    def err(self, name: str) -> str:
        path = self.result.job / f"out/{name}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    def rc(self, name: str) -> int | None:
        path = self.result.job / f"out/{name}.rc"
        return int(path.read_text()) if path.exists() else None

    def seconds(self, name: str) -> float:
        t0, t1 = map(float, self.result.text(f"out/{name}.t").split())
        return t1 - t0

    def json(self, name: str) -> dict:
        text = self.out(name)
        assert text.strip(), f"{name}: no JSON on stdout (exit {self.rc(name)}); stderr:\n{self.err(name)[-3000:]}"
        return json.loads(text)

    def dev(self, index: int, kind: str = "sr") -> str:
        return self.result.devices[index][kind]

    def path(self, name: str) -> Path:
        return self.result.job / name


def boot(name: str, drives: list[DriveSpec], script: str, job: Path) -> Guest:
    say(f"booting guest '{name}' with {len(drives)} drives: "
        + ", ".join(f"{d.kind} {Path(d.iso).name}" + (f" sticky {list(d.sticky)} flaky {list(d.flaky)}"
                                                      if d.sticky or d.flaky else "") for d in drives))
    result = harness.run_guest(script, drives, job=job, timeout_s=GUEST_TIMEOUT_S)
    boot_s = f"{result.boot_s:.1f}" if result.boot_s is not None else "?"
    script_s = f"{result.script_s:.1f}" if result.script_s is not None else "?"
    say(f"guest '{name}': boot {boot_s} s wall, script {script_s} s, QEMU total {result.wall_s:.1f} s, "
        f"exit {result.exit_code}; job {result.job}")
    for index, where in sorted(result.devices.items()):
        say(f"  drive {index} ({drives[index].kind}) = {where['sr']} {where['sg']}")
    for line in result.stdout.splitlines():
        if line.startswith("step "):
            say(f"  {line}")
    if result.exit_code is None:
        tail = "\n".join(result.console.splitlines()[-40:])
        pytest.fail(f"guest '{name}' did not run its script to the end; console:\n{tail}")
    assert len(result.devices) == len(drives), f"not every drive appeared: {result.devices}\n{result.console[-3000:]}"
    return Guest(result, drives)


# --- the clean guest ------------------------------------------------------------------------------

CLEAN_SCRIPT = r"""
step drives $ACQUIRE drives --json
for i in 0 1 2; do
    step info-$i $ACQUIRE info $(dev $i sr) --json
    step sg_inq-$i sg_inq $(dev $i sr)
    step sg_readcap-$i sg_readcap $(dev $i sr)
    step sg_get_config-$i sg_get_config --current --raw $(dev $i sr)
    step sg_get_config_text-$i sg_get_config --current $(dev $i sr)
    step probe-$i $E2E_PYTHON $PYTHONPATH/tests/e2e/probe.py $(dev $i sg)
done
step image-scsi-sr $ACQUIRE image $(dev 0 sr) $E2E_JOB/scsi-sr.iso --speed 4 --json --yes
step image-scsi-sg $ACQUIRE image $(dev 0 sg) $E2E_JOB/scsi-sg.iso --json --yes
step image-ide-sr $ACQUIRE image $(dev 1 sr) $E2E_JOB/ide-sr.iso --speed 4 --json --yes
step verify-scsi-sr $ACQUIRE verify $E2E_JOB/scsi-sr.iso.custody.sqlite --source $(dev 0 sr) --json
mkdir -p /tmp/mnt
step mount-scsi-sr mount -t iso9660 -o ro,loop $E2E_JOB/scsi-sr.iso /tmp/mnt
step listing-scsi-sr sh -c 'cd /tmp/mnt && find . -type f | sort | xargs sha256sum'
umount /tmp/mnt
step sysfs-vpd sh -c 'for d in /sys/block/sr*; do echo "$d: $(ls $d/device | grep vpd | tr "\\n" " ")"; done'
"""


def _tidy(request, job: Path, failed_before: int) -> None:
    """Remove the job directory after the module's tests, unless one failed or ACQUIRE_E2E_KEEP is set."""
    if request.session.testsfailed == failed_before and not os.environ.get("ACQUIRE_E2E_KEEP"):
        shutil.rmtree(job, ignore_errors=True)
    else:
        say(f"kept {job} (outputs in out/, QEMU command in qemu.cmd)")


@pytest.fixture(scope="module")
def clean(guest_platform, request):
    job = harness.make_job_dir()
    drives = [
        DriveSpec("scsi-cd", harness.make_iso(job / "scsi.iso", seed=11, label="E2E_SCSI"), serial="E2E-SCSI-0001"),
        DriveSpec("ide-cd", harness.make_iso(job / "ide.iso", seed=12, label="E2E_IDE")),
        DriveSpec("scsi-cd", harness.make_dvd(job / "dvd.iso"), serial="E2E-DVD-0002"),
    ]
    failed_before = request.session.testsfailed
    yield boot("clean", drives, CLEAN_SCRIPT, job)
    _tidy(request, job, failed_before)


def test_drives_json_lists_every_emulated_drive(clean):
    listing = clean.json("drives")["drives"]
    found = {d["block"]: d for d in listing}
    for index, spec in enumerate(clean.drives):
        sr, sg = clean.dev(index, "sr"), clean.dev(index, "sg")
        assert sr in found, f"drive {index} ({spec.kind}) at {sr} missing from `acquire drives`: {listing}"
        entry = found[sr]
        say(f"drives: {sr} {entry.get('sg')} {entry.get('vendor')!r} {entry.get('model')!r} "
            f"serial {entry.get('serial')!r} media {entry.get('media')!r} source {entry.get('source')!r}")
        assert entry.get("sg") == sg
        assert entry.get("vendor") == "QEMU"
        assert entry.get("model") == ("QEMU CD-ROM" if spec.kind == "scsi-cd" else "QEMU DVD-ROM")
        assert entry.get("source") in ("udev", "sysfs")
    assert len(listing) == len(clean.drives)


def _sg_inq_fields(text: str) -> dict:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        fields[key.strip()] = value.strip()
    return fields


@pytest.mark.parametrize("index", [0, 1, 2], ids=["scsi-cd", "ide-cd", "scsi-cd-dvd"])
def test_info_agrees_with_sg3_utils(clean, index):
    spec = clean.drives[index]
    assert clean.rc(f"info-{index}") == 0, clean.err(f"info-{index}")
    info = clean.json(f"info-{index}")
    inq = _sg_inq_fields(clean.out(f"sg_inq-{index}"))
    capacity = int(clean.out(f"sg_readcap-{index}").split("Number of logical blocks=")[1].split()[0])
    config = clean.path(f"out/sg_get_config-{index}.out").read_bytes()
    # GET CONFIGURATION header: bytes 0-3 data length, bytes 6-7 current profile, big-endian
    profile = int.from_bytes(config[6:8], "big")
    sg3 = {"vendor": inq["Vendor identification"], "product": inq["Product identification"],
           "revision": inq["Product revision level"], "serial": inq.get("Unit serial number") or None,
           "capacity": capacity, "profile": profile}
    ours = {**{k: info["drive"][k] or None for k in ("vendor", "product", "revision", "serial")},
            "capacity": info["medium"]["capacity"], "profile": info["medium"]["profile"]}
    say(f"info {clean.dev(index)} ({spec.kind}): acquire {ours}")
    say(f"info {clean.dev(index)} ({spec.kind}): sg3     {sg3}; fallbacks {info.get('fallbacks')}")
    assert ours == sg3
    assert capacity * SECTOR == Path(spec.iso).stat().st_size
    assert sg3["serial"] == spec.serial          # ide-cd: no VPD page 80h, so no serial at all
    expected_profile = 0x0010 if capacity > 360_000 else 0x0008
    assert profile == expected_profile
    assert info["medium"]["profile_name"].upper().replace("-", "") in \
        clean.out(f"sg_get_config_text-{index}").upper().replace("-", "")


def test_a_disc_above_360000_blocks_is_a_dvd(clean):
    info = clean.json("info-2")
    assert info["medium"]["capacity"] == 400_000
    assert info["medium"]["profile"] == 0x0010


def _image_checks(guest: Guest, name: str, index: int, device: str) -> dict:
    spec = guest.drives[index]
    code = guest.rc(name)
    outcome = guest.json(name)
    say(f"{name}: exit {code}, {outcome.get('status')}, {guest.seconds(name):.1f} s wall in the guest "
        f"({Path(spec.iso).stat().st_size // SECTOR} sectors); stderr: {guest.err(name).strip()[-300:]!r}")
    return outcome


def _record(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _fallback_events(record: Path) -> list[dict]:
    with _record(record) as db:
        return [json.loads(row[0]) for row in db.execute("SELECT details_json FROM events WHERE kind = 'fallback'")]


@pytest.mark.parametrize("name,index,kind", [("image-scsi-sr", 0, "sr"), ("image-scsi-sg", 0, "sg"),
                                             ("image-ide-sr", 1, "sr")])
def test_a_clean_disc_images_completely_with_the_isos_sha256(clean, name, index, kind):
    spec = clean.drives[index]
    outcome = _image_checks(clean, name, index, clean.dev(index, kind))
    assert clean.rc(name) == 0, clean.err(name)[-3000:]
    assert outcome["status"] == "complete"
    assert outcome["unreadable"] == 0 and outcome["unreadable_ranges"] == []
    expected = harness.sha256_file(Path(spec.iso))
    image = clean.path(f"{name.removeprefix('image-')}.iso")
    assert harness.sha256_file(image) == expected
    assert outcome["hashes"]["sha256"] == expected
    with _record(Path(outcome["record"])) as db:
        drives = db.execute("SELECT device, vendor, product, serial FROM drives").fetchall()
    say(f"{name}: record drives {drives}")
    assert (clean.dev(index, kind), "QEMU", "QEMU CD-ROM" if spec.kind == "scsi-cd" else "QEMU DVD-ROM",
            spec.serial) in [(d, v, p, s or None) for d, v, p, s in drives]


@pytest.mark.parametrize("name,index", [("image-scsi-sr", 0), ("image-ide-sr", 1)])
def test_commands_the_drive_refuses_are_fallbacks_never_a_failed_acquisition(clean, name, index):
    outcome = clean.json(name)
    events = _fallback_events(Path(outcome["record"]))
    refused = sorted({e.get("command", str(e)) for e in events})
    say(f"{name} ({clean.drives[index].kind}): fallbacks in the record: {refused}")
    assert clean.rc(name) == 0 and outcome["status"] == "complete"
    if clean.drives[index].kind == "scsi-cd":
        # QEMU's scsi-cd refuses SET CD SPEED (05/20/00); --speed 4 asked for it
        assert any("SPEED" in c or "STREAMING" in c for c in refused), events


# What docs/reference/qemu.md measured; the probe sends these CDBs through our SgTransport and guard.
EXPECTED = {
    "scsi-cd": {"READ(10) LBA 16": None, "READ(12) LBA 16": None, "READ CD user data": "05/20/00",
                "READ TRACK INFORMATION": "05/20/00", "SET CD SPEED 4x": "05/20/00", "SET STREAMING": "05/20/00",
                "GET PERFORMANCE": "05/20/00", "GET CONFIGURATION": None, "READ DISC INFORMATION": None,
                "MODE SENSE(10) 01h": None, "MODE SELECT(10) 01h retry count changed": "05/26/00"},
    "ide-cd": {"READ(10) LBA 16": None, "READ(12) LBA 16": None, "READ CD user data": None,
               "READ TRACK INFORMATION": "05/20/00", "SET CD SPEED 4x": None, "SET STREAMING": "05/20/00",
               "GET PERFORMANCE": "05/20/00", "GET CONFIGURATION": None, "READ DISC INFORMATION": None,
               "MODE SENSE(10) 01h": None, "MODE SELECT(10) 01h unchanged": "05/20/00",
               "READ DISC STRUCTURE 00h": "05/30/00"},
}


@pytest.mark.parametrize("index", [0, 1, 2], ids=["scsi-cd", "ide-cd", "scsi-cd-dvd"])
def test_each_mmc_command_is_accepted_or_refused_as_measured(clean, index):
    kind = clean.drives[index].kind
    assert clean.rc(f"probe-{index}") == 0, clean.err(f"probe-{index}")[-3000:]
    rows = {r["command"]: r for r in clean.json(f"probe-{index}")}
    for r in rows.values():
        verdict = "ok" if r.get("ok") else (r.get("sense") or r.get("error") or
                                             f"status {r.get('status')} host {r.get('host_status')}")
        say(f"probe {kind:7} {clean.dev(index, 'sg')}: {r['command']:42} {verdict}"
            + (f" ({r['bytes']} bytes)" if r.get("ok") and r.get("bytes") else ""))
    if index == 2:                                   # the DVD-sized disc: READ DISC STRUCTURE works
        assert rows["READ DISC STRUCTURE 00h"]["ok"], rows["READ DISC STRUCTURE 00h"]
        return
    for command, sense in EXPECTED[kind].items():
        row = rows[command]
        got = None if row.get("ok") else row.get("sense") or row.get("error")
        assert got == sense, f"{kind} {command}: expected {sense or 'ok'}, got {row}"


def _mounted_listing(guest: Guest, name: str) -> dict[str, str]:
    assert guest.rc(f"mount-{name}") == 0, guest.err(f"mount-{name}")
    listing = {}
    for line in guest.out(f"listing-{name}").splitlines():
        digest, path = line.split(maxsplit=1)
        listing[path.removeprefix("./")] = digest
    return listing


def _source_tree(iso: Path) -> dict[str, str]:
    tree = Path(iso).with_suffix(".tree")
    return {str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tree.rglob("*")) if p.is_file()}


def test_an_acquired_image_mounts_and_its_files_equal_the_source_tree(clean):
    listing = _mounted_listing(clean, "scsi-sr")
    source = _source_tree(clean.drives[0].iso)
    say(f"mount: {len(listing)} files in the loop-mounted image, {len(source)} in the source tree")
    assert listing == source


def _verify_checks(guest: Guest, name: str) -> dict:
    result = guest.json(name)
    checks = {c["name"]: c for c in result["checks"]}
    for c in result["checks"]:
        say(f"{name}: {'PASS' if c['ok'] else 'FAIL'} {c['name']}: {c['summary']} {c['details'] or ''}")
    return checks


def test_verify_with_the_source_drive_passes_on_the_clean_disc(clean):
    checks = _verify_checks(clean, "verify-scsi-sr")
    assert clean.rc("verify-scsi-sr") == 0, clean.err("verify-scsi-sr")[-2000:]
    assert set(checks) >= {"record", "image", "source"} and all(c["ok"] for c in checks.values())


# --- the damaged guest ----------------------------------------------------------------------------

DAMAGED_SCRIPT = r"""
step image-scsi-bad $ACQUIRE image $(dev 0 sr) $E2E_JOB/scsi-bad.iso --json --yes
step image-ide-bad $ACQUIRE image $(dev 1 sr) $E2E_JOB/ide-bad.iso --json --yes
step verify-scsi-bad $ACQUIRE verify $E2E_JOB/scsi-bad.iso.custody.sqlite --source $(dev 0 sr) --json
step verify-ide-bad $ACQUIRE verify $E2E_JOB/ide-bad.iso.custody.sqlite --source $(dev 1 sr) --json
mkdir -p /tmp/mnt
for name in scsi-bad ide-bad; do
    step mount-$name mount -t iso9660 -o ro,loop $E2E_JOB/$name.iso /tmp/mnt
    step listing-$name sh -c 'cd /tmp/mnt && find . -type f | sort | xargs sha256sum'
    umount /tmp/mnt
done
"""


@pytest.fixture(scope="module")
def damaged(guest_platform, request):
    job = harness.make_job_dir()
    drives = [
        DriveSpec("scsi-cd", harness.make_iso(job / "scsi-bad-src.iso", seed=21), serial="E2E-BAD-0003",
                  sticky=STICKY, flaky=FLAKY),
        DriveSpec("ide-cd", harness.make_iso(job / "ide-bad-src.iso", seed=22), sticky=STICKY, flaky=FLAKY),
    ]
    failed_before = request.session.testsfailed
    yield boot("damaged", drives, DAMAGED_SCRIPT, job)
    _tidy(request, job, failed_before)


def _differing_sectors(a: Path, b: Path) -> list[int]:
    data_a, data_b = a.read_bytes(), b.read_bytes()
    assert len(data_a) == len(data_b), f"{a} is {len(data_a)} bytes, {b} is {len(data_b)}"
    return [lba for lba in range(len(data_a) // SECTOR)
            if data_a[lba * SECTOR:(lba + 1) * SECTOR] != data_b[lba * SECTOR:(lba + 1) * SECTOR]]


@pytest.mark.parametrize("name,index,sense", [("image-scsi-bad", 0, "03/11/00"), ("image-ide-bad", 1, "05/21/00")],
                         ids=["scsi-cd", "ide-cd"])
def test_injected_read_errors_leave_exactly_the_sticky_lbas_unreadable(damaged, name, index, sense):
    spec = damaged.drives[index]
    code = damaged.rc(name)
    outcome = _image_checks(damaged, name, index, damaged.dev(index))
    unreadable = sorted(lba for first, last in outcome["unreadable_ranges"] for lba in range(first, last + 1))
    say(f"{name}: unreadable {outcome['unreadable_ranges']}, recovered {outcome['recovered']} "
        f"of {outcome['sectors']}")
    assert code == 3, damaged.err(name)[-3000:]
    assert outcome["status"] == "partial"
    assert unreadable == sorted(spec.sticky)
    image = damaged.path(f"{name.removeprefix('image-')}.iso")
    differing = _differing_sectors(image, Path(spec.iso))
    assert differing == sorted(spec.sticky), "only the sticky sectors may differ from the source disc"
    data = image.read_bytes()
    assert all(data[lba * SECTOR:(lba + 1) * SECTOR] == bytes(SECTOR) for lba in spec.sticky)
    for lba in spec.flaky:
        assert lba not in unreadable, f"once-only LBA {lba} should have been recovered"


@pytest.mark.parametrize("name,index,sense", [("image-scsi-bad", 0, "03/11/00"), ("image-ide-bad", 1, "05/21/00")],
                         ids=["scsi-cd", "ide-cd"])
def test_the_sense_qemu_returns_is_in_the_damage_log(damaged, name, index, sense):
    spec = damaged.drives[index]
    outcome = damaged.json(name)
    with _record(Path(outcome["record"])) as db:
        rows = db.execute("SELECT lba, count, phase, outcome, sense, sense_name, reason FROM damage ORDER BY id").fetchall()
        senses = {row[0] for row in db.execute("SELECT DISTINCT sense FROM damage")}
    for row in rows[:30]:
        say(f"{name} damage: lba {row[0]} count {row[1]} phase {row[2]} {row[3]} {row[4]} {row[5]!r} {row[6] or ''}")
    if len(rows) > 30:
        say(f"{name} damage: ... {len(rows) - 30} more rows")
    assert sense in senses, f"{spec.kind}: expected {sense} in the damage table, got {senses}"
    failed_lbas = {lba for lba, count, _, result, *_ in rows if result == "failed" and count == 1}
    assert set(spec.sticky) <= failed_lbas
    touched = {lba + k for lba, count, *_ in rows for k in range(count)}
    for lba in spec.flaky:
        assert lba in touched, f"the once-only failure at {lba} is not in the damage log"


@pytest.mark.parametrize("name,index", [("scsi-bad", 0), ("ide-bad", 1)], ids=["scsi-cd", "ide-cd"])
def test_verify_with_the_source_drive_finds_the_sticky_lbas_still_unreadable(damaged, name, index):
    spec = damaged.drives[index]
    checks = _verify_checks(damaged, f"verify-{name}")
    assert checks["record"]["ok"] and checks["image"]["ok"]
    source = checks["source"]
    found = re.search(r"(\d+) of (\d+) unreadable sectors read now", source["summary"])
    assert found, source
    assert (int(found[1]), int(found[2])) == (0, len(spec.sticky)), source
    assert "reads that failed now" not in " ".join(source["details"]), source


def _file_extents(iso: Path, tree: dict[str, str]) -> dict[str, range]:
    """Where each file's data lies on the disc: found by its first sector (the content is random)."""
    data = Path(iso).read_bytes()
    root = Path(iso).with_suffix(".tree")
    extents = {}
    for name in tree:
        content = (root / name).read_bytes()
        sectors = -(-len(content) // SECTOR)
        starts = [lba for lba in range(len(data) // SECTOR)
                  if data[lba * SECTOR:lba * SECTOR + len(content[:SECTOR])] == content[:SECTOR]]
        assert len(starts) == 1, f"{name}: found at {starts}"
        extents[name] = range(starts[0], starts[0] + sectors)
    return extents


@pytest.mark.parametrize("name,index", [("scsi-bad", 0), ("ide-bad", 1)], ids=["scsi-cd", "ide-cd"])
def test_only_the_files_over_sticky_lbas_differ_in_the_mounted_image(damaged, name, index):
    spec = damaged.drives[index]
    listing = _mounted_listing(damaged, name)
    source = _source_tree(spec.iso)
    extents = _file_extents(spec.iso, source)
    expected = sorted(f for f, where in extents.items() if any(lba in where for lba in spec.sticky))
    differing = sorted(f for f in source if listing.get(f) != source[f])
    say(f"mount {name}: {len(listing)} files; differing {differing}; over sticky LBAs {expected}")
    assert set(listing) == set(source)
    assert differing == expected
