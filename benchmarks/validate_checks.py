"""How long each `acquire validate` check takes, per kind of disc: readers, mount guest, each boot.

    python benchmarks/validate_checks.py [--repeat 3] [--grub PATH] [--ipxe PATH] [--cache DIR]

Discs (made here with xorriso/genisoimage, or Debian's grub-rescue-cdrom.iso when --grub names it or
the e2e cache holds it): a data-only ISO of 40 files (8 MB), the same with a UDF bridge, a tiny
BIOS boot image plus a no-FAT EFI entry, grub-rescue (296 files, hybrid) and Debian's ipxe.iso
(ISOLINUX + iPXE, an EFI entry) when the e2e cache holds them (the e2e tests fetch them). Each is validated
through the library (acquire.validate.validate, record_result=False, so the record is untouched)
--repeat times; printed are the wall seconds of each check (min / median / max over the repeats)
and the whole validation. QEMU runs with -accel tcg, one vCPU; the machine is shared, so run it
under `nice` and read the figures as this machine's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acquire.validate import agree, boot, mount  # noqa: E402
from acquire.fs.analyze import analyze_image  # noqa: E402

BOOT_CODE = bytes.fromhex("e800005e83c6180e1ffcac08c07409b40ebb0700cd10ebf2f4ebfd") + b"BENCH-BOOT\r\n\0"


def make_tree(root: Path, files: int) -> Path:
    (root / "sub").mkdir(parents=True)
    for i in range(files):
        (root / "sub" / f"file{i:03d}.bin").write_bytes(os.urandom(200_000))
    return root


def discs(work: Path, grub: Path | None, ipxe: Path | None = None) -> dict[str, Path]:
    out = {}
    tree = make_tree(work / "tree", 40)
    out["data-only, 40 files"] = _xorriso(work / "data.iso", tree)
    out["udf bridge, 40 files"] = work / "udf.iso"
    subprocess.run(["genisoimage", "-quiet", "-udf", "-J", "-R", "-o", str(out["udf bridge, 40 files"]), str(tree)],
                   check=True, capture_output=True)
    tiny = make_tree(work / "tiny", 2)
    (tiny / "boot.img").write_bytes(BOOT_CODE.ljust(2048, b"\0"))
    (tiny / "efi.img").write_bytes(bytes(65536))
    out["tiny BIOS boot + EFI entry"] = _xorriso(work / "tiny.iso", tiny, "-b", "boot.img", "-no-emul-boot",
                                                 "-boot-load-size", "4", "-eltorito-alt-boot", "-e", "efi.img",
                                                 "-no-emul-boot")
    if grub is not None and grub.is_file():
        out["grub-rescue-cdrom (hybrid)"] = grub
    if ipxe is not None and ipxe.is_file():
        out["ipxe.iso (BIOS + EFI entries, hybrid)"] = ipxe
    return out


def _xorriso(iso: Path, tree: Path, *args: str) -> Path:
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", *args, "-o", str(iso), str(tree)],
                   check=True, capture_output=True)
    return iso


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    result = fn(*args, **kw)
    return time.monotonic() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--grub", type=Path, default=ROOT / "tests/e2e/.cache/grub-rescue/usr/lib/grub-rescue/grub-rescue-cdrom.iso")
    ap.add_argument("--ipxe", type=Path, default=ROOT / "tests/e2e/.cache/ipxe/usr/lib/ipxe/ipxe.iso")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("ACQUIRE_E2E_CACHE", ROOT / "tests/e2e/.cache")))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        for name, iso in discs(work, args.grub, args.ipxe).items():
            analysis = analyze_image(iso, None)
            times: dict[str, list[float]] = {}
            outcomes: dict[str, str] = {}
            for _ in range(args.repeat):
                t, c = timed(agree.check_readers, iso, analysis)
                times.setdefault("readers", []).append(t)
                outcomes["readers"] = c.outcome
                t, c = timed(mount.check_mount, iso, analysis, cache=args.cache)
                times.setdefault("mount (guest)", []).append(t)
                outcomes["mount (guest)"] = c.outcome
                if not c.ok:
                    print(f"  mount failed on {name}: {c.summary}; " + " | ".join(c.details[:4]), flush=True)
                for c in boot.check_boot(iso, analysis, work / "shots", time_limit_s=30):
                    if "seconds" in c.figures:
                        times.setdefault(c.name, []).append(c.figures["seconds"])
                        outcomes[c.name] = c.outcome
            size_mb = iso.stat().st_size / 1e6
            print(f"{name} ({size_mb:.1f} MB, {len(analysis.files)} files in the analysis):")
            for check, values in times.items():
                print(f"  {check:28} {min(values):6.2f} / {statistics.median(values):6.2f} / {max(values):6.2f} s"
                      f"  ({outcomes[check]})")
            total = [sum(v[i] for v in times.values()) for i in range(args.repeat)]
            print(f"  {'all checks':28} {min(total):6.2f} / {statistics.median(total):6.2f} / {max(total):6.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
