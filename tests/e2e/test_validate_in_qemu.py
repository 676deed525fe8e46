"""`acquire validate` with QEMU: real boots (SeaBIOS, OVMF) and the kernel's mount in the e2e guest.

- Debian's grub-rescue-pc (grub-rescue-cdrom.iso, fetched with `apt-get download` into the e2e
  cache, never committed), imaged through the simulated drive by `acquire image`, which validates
  at its end: GRUB as a BIOS CD and as a BIOS disk (it is hybrid), readers agree, the mount compare
  passes; its HTML report shows the boot screenshot in a headless Chromium screenshot of the page.
- A tiny boot image made here (real-mode code printing a known line through INT 10h) with an EFI
  entry beside it whose image is no FAT: SeaBIOS runs it and the line is seen; OVMF finds nothing.
- A data-only ISO: not bootable, in SeaBIOS's words.
- Debian's ipxe.iso: ISOLINUX then iPXE with SeaBIOS; iPXE's EFI build with OVMF.
- The tiny boot disc acquired from a damaged drive (the boot image's sector unreadable): damaged,
  not booted; the files hit are expected to differ in the readers check.

Measured on 2 cores (TCG): about 60-80 s for the whole file (more when the machine is loaded), most
of it the grub image's validation (mount guest 8-15 s, two boots ~2 s each), the mount guests of the
UDF disc and Chromium.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import run_acquire, write_profile  # noqa: E402
from test_report_picture import CHROMIUM, decode_png  # noqa: E402

from acquire.fs.analyze import analyze_image  # noqa: E402

pytestmark = pytest.mark.e2e
KNOWN_LINE = "ACQUIRE-BOOT-TEST-OK"
TIME_LIMIT = "20"
VALIDATE_ON = {"ACQUIRE_NO_VALIDATE": "", "ACQUIRE_GUEST_CACHE": str(harness.CACHE)}


def say(text: str) -> None:
    print(f"[e2e validate] {text}", flush=True)


@pytest.fixture(scope="module", autouse=True)
def qemu_present():
    try:
        harness.qemu_version()
    except harness.Unavailable as exc:
        say(f"SKIP: {exc}")
        pytest.skip(str(exc))


def checks(out: dict) -> dict:
    return {c["check"]: c for c in out["checks"]}


def show(out: dict) -> None:
    for c in out["checks"]:
        say(f"{c['check']}: {c['outcome']}: {c['summary']} ({c['figures'].get('seconds', '-')} s)")


def acquire(tmp: Path, iso: Path, *, damage=(), code=0, validate=False) -> tuple[Path, dict]:
    profile = write_profile(tmp / "drive.toml", iso.name, damage=list(damage))
    done = run_acquire("image", f"sim:{profile}", tmp / "disc.iso", "--json",
                       *([] if validate else ["--no-validate"]), env=VALIDATE_ON if validate else None)
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return tmp / "disc.iso.custody.sqlite", json.loads(done.stdout)


def validate(record: Path, *extra) -> tuple[int, dict]:
    done = run_acquire("validate", record, "--json", "--time-limit", TIME_LIMIT, *extra, env=VALIDATE_ON)
    assert done.stdout.strip(), done.stderr
    out = json.loads(done.stdout)
    show(out)
    return done.returncode, out


# --- discs --------------------------------------------------------------------------------------------

def grub_rescue_iso() -> Path:
    """grub-rescue-cdrom.iso from Debian's grub-rescue-pc, downloaded once into the e2e cache."""
    cache = harness.CACHE / "grub-rescue"
    iso = cache / "usr/lib/grub-rescue/grub-rescue-cdrom.iso"
    if iso.is_file():
        return iso
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", "grub-rescue-pc"], cwd=cache, capture_output=True, text=True)
    debs = sorted(cache.glob("grub-rescue-pc_*.deb"))
    if not debs:
        reason = f"apt-get download grub-rescue-pc failed: {(done.stderr or done.stdout).strip()[-500:]}"
        say(f"SKIP: {reason}")
        pytest.skip(reason)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(cache)], check=True)
    return iso


def tiny_boot_code(line: str) -> bytes:
    """A 2048-byte no-emulation boot image: prints `line` through INT 10h AH=0Eh, then halts.
    Position-independent (call/pop finds the message), so CS:IP 07C0:0000 or 0000:7C00 both work."""
    code = bytes.fromhex(
        "e80000"      # call $+3          (push the address of the next instruction)
        "5e"          # pop si
        "83c618"      # add si, 24        (the message: 27 bytes from the start, 3 after the call)
        "0e1f"        # push cs ; pop ds
        "fc"          # cld
        "ac"          # lodsb             (offset 10: the loop)
        "08c0"        # or al, al
        "7409"        # jz +9             (to hlt)
        "b40e"        # mov ah, 0Eh       (teletype output)
        "bb0700"      # mov bx, 0007h
        "cd10"        # int 10h
        "ebf2"        # jmp -14           (to lodsb)
        "f4"          # hlt               (offset 24)
        "ebfd")       # jmp -3            (to hlt)
    assert len(code) == 27
    return (code + line.encode() + b"\r\n\0").ljust(2048, b"\0")


def xorriso_iso(tmp: Path, name: str, *boot_args: str, efi: bool = False) -> Path:
    tree = tmp / f"{name}.tree"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "notes.txt").write_text("validate e2e\n" * 200)
    (tree / "data.bin").write_bytes(os.urandom(300_000))
    if boot_args:
        (tree / "boot.img").write_bytes(tiny_boot_code(KNOWN_LINE))
    if efi:
        (tree / "efi.img").write_bytes(b"\0" * 65536)         # no FAT: OVMF finds nothing to load
    iso = tmp / f"{name}.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", *boot_args, "-o", str(iso), str(tree)],
                   check=True, capture_output=True)
    return iso


TINY_BOOT = ("-b", "boot.img", "-no-emul-boot", "-boot-load-size", "4")
WITH_EFI = ("-eltorito-alt-boot", "-e", "efi.img", "-no-emul-boot")


# --- grub-rescue-pc -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grub")
    shutil.copy(grub_rescue_iso(), tmp / "grub-rescue-cdrom.iso")
    record, out = acquire(tmp, tmp / "grub-rescue-cdrom.iso", validate=True)   # `acquire image` validates
    show(out["validation"])
    return record, out


def test_grub_rescue_boots_to_grub_as_a_cd_and_as_a_disk_readers_agree_and_it_mounts(grub):
    record, out = grub
    c = checks(out["validation"])
    assert c["boot cd bios entry 1"]["outcome"] == "booted" and c["boot cd bios entry 1"]["figures"]["loader"] == "GRUB"
    assert c["boot disk bios"]["outcome"] == "booted" and c["boot disk bios"]["figures"]["loader"] == "GRUB"
    assert c["readers"]["outcome"] == "pass", c["readers"]["details"]
    for reader in ("xorriso", "sleuthkit", "7z", "isoinfo"):
        fig = c["readers"]["figures"][reader]
        assert fig["outcome"] == "pass" and fig["entries"] > 250, (reader, fig)
    assert c["mount"]["outcome"] == "pass", c["mount"]["details"]
    assert c["mount"]["figures"]["iso9660"]["files_hashed"] > 250
    assert out["validation"]["ok"] and out["validation"]["recorded"].startswith("recorded")
    for name in ("boot cd bios entry 1", "boot disk bios"):
        shot = c[name]["figures"]["screenshot"]
        assert (record.parent / shot["file"]).is_file()
    assert run_acquire("verify", record, "--no-record").returncode == 0


def test_the_html_report_shows_the_boot_screenshot_seen_in_chromium(grub, tmp_path):
    if CHROMIUM is None:
        say("SKIP: no chromium (apt-get install chromium)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    record, out = grub
    html = tmp_path / "report.html"
    run_acquire("report", record, "-o", html, check_code=0)
    assert html.read_text().count("data:image/png;base64,") == 2
    page = tmp_path / "page.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={page}",
                    "--window-size=1280,12000", html.as_uri()], capture_output=True, timeout=180)
    shot = record.parent / checks(out["validation"])["boot cd bios entry 1"]["figures"]["screenshot"]["file"]
    assert _shown_in(decode_png(shot.read_bytes()), decode_png(page.read_bytes())), \
        "the guest's screenshot is not visible in Chromium's rendering of the report"
    # a screenshot that is not the one the record hashed is not shown, and the report says so
    original = shot.read_bytes()
    try:
        shot.write_bytes(original + b"\0")
        run_acquire("report", record, "-o", tmp_path / "changed.html", check_code=0)
        changed = (tmp_path / "changed.html").read_text()
        assert changed.count("data:image/png;base64,") == 1 and "not the one the record hashed" in changed
    finally:
        shot.write_bytes(original)


def _shown_in(image, page) -> bool:
    """Are the guest screen's rows (red channel) found, one under the other, in the page's pixels?"""
    w, h, bpp, rows = image
    pw, ph, pbpp, prows = page
    picked = [y for y in range(h) if len(set(rows[y][0::bpp])) > 1][:40]     # rows with text on them
    assert picked, "the guest screenshot is blank"
    first = rows[picked[0]][0::bpp]
    for y in range(ph - h):
        x = prows[y][0::pbpp].find(first)
        if x >= 0 and all(prows[y + r - picked[0]][0::pbpp][x:x + w] == rows[r][0::bpp] for r in picked[1:]):
            say(f"the guest screen is in Chromium's page at x={x}, y={y - picked[0]}")
            return True
    return False


# --- made here ----------------------------------------------------------------------------------------

def test_a_tiny_boot_image_is_seen_booted_and_an_efi_entry_with_no_loader_is_not(tmp_path):
    record, _ = acquire(tmp_path, xorriso_iso(tmp_path, "tiny", *TINY_BOOT, *WITH_EFI, efi=True))
    code, out = validate(record, "--no-mount")
    bios, efi = checks(out)["boot cd bios entry 1"], checks(out)["boot cd uefi entry 2"]
    assert bios["outcome"] == "booted" and bios["figures"]["printed"][0] == KNOWN_LINE
    assert KNOWN_LINE in bios["figures"]["serial_tail"] and bios["figures"]["firmware_name"] == "SeaBIOS"
    assert efi["outcome"] == "not bootable" and not efi["ok"] and efi["figures"]["firmware_name"] == "OVMF"
    assert any("BdsDxe: failed to load" in said for said in efi["figures"]["firmware_said"])
    assert code == 1                      # the EFI entry claims to boot and does not


def test_a_data_only_iso_is_not_bootable_in_the_firmwares_words(tmp_path):
    record, _ = acquire(tmp_path, xorriso_iso(tmp_path, "data"))
    code, out = validate(record, "--no-mount")
    boot = checks(out)["boot cd bios"]
    assert boot["outcome"] == "not bootable" and boot["ok"] and code == 0
    assert "No bootable device." in boot["figures"]["firmware_said"], boot["figures"]
    assert "the image claims no way of booting" in boot["summary"]


def test_a_boot_image_in_unreadable_sectors_is_damaged_not_booted(tmp_path):
    iso = xorriso_iso(tmp_path, "tiny", *TINY_BOOT)
    analysis = analyze_image(iso, None)
    boot_lba = analysis.boot_images[0].lba
    notes = next(f for f in analysis.files if f.path == "/docs/notes.txt")
    bad = f"{boot_lba}, {notes.extents[0][0]}"
    record, _ = acquire(tmp_path, iso, damage=[{"lbas": bad, "kind": "unreadable"}], code=3)
    code, out = validate(record, "--no-mount")
    boot = checks(out)["boot cd bios entry 1"]
    assert boot["outcome"] == "damaged" and not boot["ok"] and "seconds" not in boot["figures"]
    assert f"at LBA {boot_lba}" in boot["summary"] and "screenshot" not in boot["figures"]
    readers = checks(out)["readers"]
    assert readers["outcome"] == "pass", readers["details"]
    assert "unreadable" in readers["figures"]["expected_to_differ"]["/docs/notes.txt"]
    assert code == 1


def test_a_udf_bridge_disc_mounts_as_iso9660_and_as_udf_with_the_same_files(tmp_path):
    tree = tmp_path / "tree"
    (tree / "Sub").mkdir(parents=True)
    (tree / "Sub" / "Hello World.txt").write_text("hello\n" * 100)
    (tree / "data.bin").write_bytes(os.urandom(100_000))
    iso = tmp_path / "udf.iso"
    subprocess.run(["genisoimage", "-quiet", "-udf", "-J", "-R", "-V", "UDFT", "-o", str(iso), str(tree)],
                   check=True, capture_output=True)
    record, _ = acquire(tmp_path, iso)
    code, out = validate(record, "--no-boot")
    mounted = checks(out)["mount"]
    assert code == 0 and mounted["outcome"] == "pass", mounted["details"]
    assert mounted["figures"]["udf"]["compared_with"] == "acquire udf"
    assert mounted["figures"]["iso9660"]["compared_with"].startswith("acquire iso9660")
    assert mounted["figures"]["udf"]["files_hashed"] == mounted["figures"]["iso9660"]["files_hashed"] == 2


def test_a_boot_that_shows_nothing_ends_at_the_time_limit_with_no_result_and_a_screenshot(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "boot.img").write_bytes(bytes.fromhex("faf4ebfd").ljust(2048, b"\0"))   # cli; hlt; jmp -3
    iso = tmp_path / "silent.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", *TINY_BOOT, "-o", str(iso), str(tree)],
                   check=True, capture_output=True)
    record, _ = acquire(tmp_path, iso)
    done = run_acquire("validate", record, "--json", "--no-mount", "--time-limit", "5", env=VALIDATE_ON)
    out = json.loads(done.stdout)
    show(out)
    boot = checks(out)["boot cd bios entry 1"]
    assert boot["outcome"] == "no result" and not boot["ok"] and boot["figures"]["timed_out"]
    assert 5 <= boot["figures"]["seconds"] < 8 and "within 5 s" in boot["summary"]
    assert (record.parent / boot["figures"]["screenshot"]["file"]).is_file() and done.returncode == 1


def test_debians_ipxe_iso_boots_isolinux_then_ipxe_with_seabios_and_ipxe_with_ovmf(tmp_path):
    cache = harness.CACHE / "ipxe"
    iso = cache / "usr/lib/ipxe/ipxe.iso"
    if not iso.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["apt-get", "download", "ipxe"], cwd=cache, capture_output=True, text=True)
        debs = sorted(cache.glob("ipxe_*.deb"))
        if not debs:
            reason = f"apt-get download ipxe failed: {(done.stderr or done.stdout).strip()[-500:]}"
            say(f"SKIP: {reason}")
            pytest.skip(reason)
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(cache)], check=True)
    shutil.copy(iso, tmp_path / "ipxe.iso")
    record, _ = acquire(tmp_path, tmp_path / "ipxe.iso")
    code, out = validate(record, "--no-mount")
    c = checks(out)
    assert c["boot cd bios entry 1"]["figures"]["loaders"] == ["ISOLINUX", "iPXE"]
    assert c["boot cd uefi entry 2"]["outcome"] == "booted" and c["boot cd uefi entry 2"]["figures"]["loader"] == "iPXE"
    assert c["boot cd uefi entry 2"]["figures"]["firmware_name"] == "OVMF"
    assert c["boot disk bios"]["outcome"] == "booted" and code == 0
