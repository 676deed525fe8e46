"""Boot a Debian kernel in QEMU (TCG) with emulated CD drives and run a shell script in it.

The guest is a busybox initramfs that loads the SCSI, ATA and 9p modules, mounts this machine's
root read-only over virtio-9p, chroots into it and runs the script with the machine's own Python,
so that `python3 -m acquire` in the guest is this checkout. A second, writable 9p share is the
job directory: it holds the script, the test discs and every output, and the guest sees it at the
same path as the host does (it is mounted over the guest's tmpfs /tmp at that path).

Measured facts this follows: docs/reference/qemu.md (and docs/e2e.md).

    result = run_guest("python3 -m acquire drives --json", [DriveSpec("scsi-cd", iso, serial="E2E-1")])
    result.exit_code, result.stdout, result.files["..."], result.boot_s
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acquire.validate import guest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("ACQUIRE_E2E_CACHE", HERE / ".cache"))
QEMU = "qemu-system-x86_64"
SECTOR = 2048

# Load order matters: virtio_ring before virtio (docs/reference/qemu.md "Kernel modules").
MODULES = (
    "virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci "
    "scsi_common scsi_mod virtio_scsi cdrom sr_mod sg "
    "libata libahci ahci ata_piix "
    "loop isofs crc-itu-t udf "
    "netfs fscache 9pnet 9pnet_virtio 9p"
).split()

# The Python that has acquire's dependencies; the guest chroots into this machine's root, so the
# same path works there. Overridable for other machines.
GUEST_PYTHON = os.environ.get("ACQUIRE_E2E_PYTHON", sys.executable)

START_MARK = "E2E-SCRIPT-START"
END_MARK = "E2E-SCRIPT-END"


# The kernel, busybox and initramfs machinery is acquire's own (acquire validate boots the same guest
# to mount images): one implementation, used here with this harness's modules and init.
Unavailable = guest.GuestUnavailable     # what the guest needs cannot be had here


@dataclasses.dataclass(frozen=True)
class DriveSpec:
    """One emulated drive. kind: 'scsi-cd' (virtio-scsi) or 'ide-cd' (AHCI ATAPI).

    sticky: 2048-byte LBAs whose every read fails (blkdebug once=off); flaky: LBAs whose first
    read fails only (once=on). errno 61 (ENODATA) gives MEDIUM ERROR 03/11/00 on scsi-cd and
    05/21/00 on ide-cd; errno 5 would give ABORTED COMMAND, which the kernel block path retries.
    """
    kind: str
    iso: Path
    serial: str | None = None
    sticky: tuple[int, ...] = ()
    flaky: tuple[int, ...] = ()
    errno: int = 61

    def __post_init__(self) -> None:
        if self.kind not in ("scsi-cd", "ide-cd"):
            raise ValueError(f"unknown drive kind {self.kind!r}: use 'scsi-cd' or 'ide-cd'")


@dataclasses.dataclass
class GuestResult:
    exit_code: int | None          # the script's exit status; None when the guest never got that far
    stdout: str                    # the script's stdout
    stderr: str                    # the script's stderr
    console: str                   # the serial console (kernel, init), for diagnosis
    files: dict[str, Path]         # everything in the job directory, by relative path
    job: Path                      # the job directory (the same path in host and guest)
    boot_s: float | None           # host wall seconds from QEMU start to the script's start
    script_s: float | None         # host wall seconds the script ran
    wall_s: float                  # host wall seconds for the whole QEMU run
    devices: dict[int, dict]       # drive index -> {"sr": "/dev/sr0", "sg": "/dev/sg0", "sysfs": ...}

    def text(self, name: str) -> str:
        return (self.job / name).read_text()


# --- the kernel ---------------------------------------------------------------------------------

def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


kernel_package_name = guest.kernel_package_name


def kernel() -> tuple[Path, Path, str]:
    """(vmlinuz, modules directory, kernel release), downloaded and unpacked once into CACHE."""
    return guest.kernel(CACHE, MODULES)


# --- the initramfs --------------------------------------------------------------------------------

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do
    insmod /modules/$m.ko 2>/dev/null || echo "e2e-init: insmod $m failed"
done
mkdir -p /job /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap job /job || echo "e2e-init: no job share"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /host || echo "e2e-init: no host root"
. /job/e2e.env
# SCSI scanning is asynchronous (CONFIG_SCSI_SCAN_ASYNC): wait for every drive, 30 s at most
i=0
while [ "$(ls /sys/block | grep -c '^sr')" -lt "$E2E_DRIVES" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /hosttmp
mount --bind /host/tmp /hosttmp              # before the tmpfs covers it: a checkout or venv may live there
mount -t tmpfs -o size=75% tmpfs /host/tmp
for d in $E2E_KEEP; do
    mkdir -p /host$d
    mount --bind /hosttmp${d#/tmp} /host$d
done
mkdir -p /host$E2E_JOB
mount --bind /job /host$E2E_JOB
for b in /sys/block/sr*; do
    [ -e "$b" ] || continue
    n=${b##*/}
    sg=$(ls /sys/block/$n/device/scsi_generic 2>/dev/null)
    echo "$n ${sg:--} $(readlink -f $b/device)"
done > /job/devices.txt
echo "E2E-SCRIPT-START"
chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 ACQUIRE_NO_VALIDATE=1 PYTHONPATH="$E2E_PYTHONPATH" PYTHONDONTWRITEBYTECODE=1 E2E_JOB="$E2E_JOB" \
    E2E_PYTHON="$E2E_PYTHON" /bin/sh -c 'cd "$E2E_JOB" && exec /bin/sh ./script.sh' \
    > /job/stdout 2> /job/stderr
echo $? > /job/exit_code
echo "E2E-SCRIPT-END"
sync
umount /host$E2E_JOB /job 2>/dev/null
poweroff -f
"""


busybox = guest.busybox


def initramfs() -> tuple[Path, Path, str]:
    """(vmlinuz, initrd, kernel release); the initrd is rebuilt when the init script or kernel changes."""
    return guest.initramfs(CACHE, INIT, MODULES)


def qemu_version() -> str:
    exe = shutil.which(QEMU)
    if not exe:
        raise Unavailable(f"{QEMU} is not installed (apt-get install qemu-system-x86)")
    return _run([exe, "--version"]).stdout.splitlines()[0]


def preflight() -> dict:
    """Everything a guest needs, fetched or built; raises Unavailable saying what is missing."""
    version = qemu_version()
    vmlinuz, initrd, release = initramfs()
    return {"qemu": version, "kernel": release, "vmlinuz": vmlinuz, "initrd": initrd}


# --- drives -------------------------------------------------------------------------------------

def blkdebug_rules(spec: DriveSpec) -> str:
    """One [inject-error] section per bad 2048-byte LBA; blkdebug counts 512-byte sectors."""
    sections = []
    for lbas, once in ((spec.sticky, "off"), (spec.flaky, "on")):
        for lba in lbas:
            sections.append(f'[inject-error]\nevent = "read_aio"\nsector = "{4 * lba}"\n'
                            f'errno = "{spec.errno}"\nonce = "{once}"\nimmediately = "off"\n')
    return "\n".join(sections)


def drive_args(drives: list[DriveSpec], job: Path) -> list[str]:
    args: list[str] = []
    if any(d.kind == "scsi-cd" for d in drives):
        args += ["-device", "virtio-scsi-pci,id=scsi0"]
    if any(d.kind == "ide-cd" for d in drives):
        args += ["-device", "ahci,id=ahci0"]
    port = 0
    for index, spec in enumerate(drives):
        iso = Path(spec.iso).resolve()
        source = f"file={iso}"
        if spec.sticky or spec.flaky:
            rules = job / f"blkdebug-{index}.conf"
            rules.write_text(blkdebug_rules(spec))
            source = f"file=blkdebug:{rules}:{iso}"     # blkdebug must sit under format=raw
        args += ["-drive", f"if=none,id=cd{index},media=cdrom,readonly=on,format=raw,rerror=report,{source}"]
        if spec.kind == "scsi-cd":
            # without serial= there is no VPD page 80h
            serial = f",serial={spec.serial}" if spec.serial else ""
            args += ["-device", f"scsi-cd,drive=cd{index},bus=scsi0.0,scsi-id={index},lun=0{serial}"]
        else:
            if port >= 6:
                raise ValueError("an AHCI controller has 6 ports: at most 6 ide-cd drives")
            serial = f",serial={spec.serial}" if spec.serial else ""
            args += ["-device", f"ide-cd,drive=cd{index},bus=ahci0.{port}{serial}"]
            port += 1
    return args


def device_patterns(drives: list[DriveSpec]) -> list[str]:
    """Per drive, a regex on its sysfs device path: scsi-cd by target id (H:C:T:L), ide-cd by AHCI port (ataN)."""
    patterns, port = [], 0
    for index, spec in enumerate(drives):
        if spec.kind == "scsi-cd":
            patterns.append(f"/virtio[0-9]+/host[0-9]+/target[0-9]+:0:{index}/[0-9]+:0:{index}:0$")
        else:
            port += 1
            patterns.append(f"/ata{port}/host[0-9]+/")
    return patterns


def _match_devices(drives: list[DriveSpec], listing: str) -> dict[int, dict]:
    """Which /dev/srN and /dev/sgN is which drive, from the guest's devices.txt."""
    rows = [line.split(maxsplit=2) for line in listing.splitlines() if len(line.split()) == 3]
    found: dict[int, dict] = {}
    for index, pattern in enumerate(device_patterns(drives)):
        for name, sg, sysfs in rows:
            if re.search(pattern, sysfs):
                found[index] = {"sr": f"/dev/{name}", "sg": f"/dev/{sg}" if sg != "-" else None, "sysfs": sysfs}
    return found


# Sourced before every script. step NAME CMD...: runs CMD, keeping stdout, stderr, exit status and
# start/end times in out/NAME.{out,err,rc,t}; dev INDEX sr|sg: the device node of drive INDEX.
PRELUDE = r"""
mkdir -p out
ACQUIRE="$E2E_PYTHON -m acquire"
step() {
    _name=$1; shift
    _t0=$(date +%s.%N)
    "$@" > "out/$_name.out" 2> "out/$_name.err"
    _rc=$?
    _t1=$(date +%s.%N)
    echo "$_t0 $_t1" > "out/$_name.t"
    echo $_rc > "out/$_name.rc"
    echo "step $_name exit $_rc in $(echo "$_t0 $_t1" | awk '{printf "%.2f", $2 - $1}') s: $*"
}
dev() {
    _re=$(sed -n "$(($1 + 1))p" drives.txt)
    _line=$(grep -E "$_re" devices.txt | head -n 1)
    set -- "$2" $_line
    if [ "$1" = sg ]; then echo "/dev/$3"; else echo "/dev/$2"; fi
}
"""


# --- running ------------------------------------------------------------------------------------

def _kept_under_tmp() -> list[str]:
    """Host directories under /tmp the guest must still see over its own tmpfs /tmp: the checkout
    and the Python environment, when CI clones or makes them there (/tmp/X for /tmp/X/...)."""
    kept = set()
    for path in (Path(REPO).resolve(), Path(sys.prefix), Path(GUEST_PYTHON).parent.parent):
        parts = path.parts
        if len(parts) > 2 and parts[1] == "tmp":
            kept.add(str(Path("/", *parts[1:3])))
    return sorted(kept)


def make_job_dir() -> Path:
    """A job directory under /tmp: the guest mounts it at the same path over its tmpfs /tmp."""
    return Path(tempfile.mkdtemp(prefix="acquire-e2e-", dir="/tmp"))


def run_guest(script: str, drives: list[DriveSpec], *, timeout_s: float = 300, job: Path | None = None,
              memory_mb: int = 512, cpu: str = "max", log=None) -> GuestResult:
    """Boot a guest with `drives`, run `script` (POSIX sh, cwd = the job directory) and power off.

    In the script: $E2E_PYTHON is the Python with acquire's dependencies (PYTHONPATH is this
    checkout), $E2E_JOB the job directory. Files written there come back in GuestResult.files.
    """
    info = preflight()
    job = Path(job) if job else make_job_dir()
    job = job.resolve()
    if not str(job).startswith("/tmp/"):
        raise ValueError(f"the job directory must be under /tmp (the guest mounts it there): {job}")
    job.mkdir(parents=True, exist_ok=True)
    for stale in ("stdout", "stderr", "exit_code", "devices.txt", "drives.txt"):
        (job / stale).unlink(missing_ok=True)
    (job / "script.sh").write_text(PRELUDE + script)
    (job / "drives.txt").write_text("".join(p + "\n" for p in device_patterns(drives)))
    (job / "e2e.env").write_text(
        f"E2E_JOB='{job}'\nE2E_DRIVES={len(drives)}\nE2E_PYTHONPATH='{REPO}'\nE2E_PYTHON='{GUEST_PYTHON}'\n"
        f"E2E_KEEP='{' '.join(_kept_under_tmp())}'\n")
    cmd = ["timeout", "--kill-after=5", str(int(timeout_s)), QEMU, "-accel", "tcg", "-m", str(memory_mb),
           "-smp", "1", "-cpu", cpu, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
           "-kernel", str(info["vmlinuz"]), "-initrd", str(info["initrd"]),
           "-append", "console=ttyS0 panic=-1 quiet loglevel=3",
           "-fsdev", f"local,id=jobfs,path={job},security_model=none",
           "-device", "virtio-9p-pci,fsdev=jobfs,mount_tag=job",
           # multidevs=remap is required: without it /proc is broken inside the chroot
           "-fsdev", "local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap",
           "-device", "virtio-9p-pci,fsdev=rootfs,mount_tag=hostroot",
           *drive_args(drives, job)]
    (job / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    started = time.monotonic()
    boot_s = script_s = None
    console: list[str] = []
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if not sel.select(timeout=1.0):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            now = time.monotonic() - started
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace").rstrip("\r")
                console.append(line)
                if START_MARK in line and boot_s is None:
                    boot_s = now
                elif END_MARK in line and boot_s is not None and script_s is None:
                    script_s = now - boot_s
                if log:
                    log(line)
    console.append(buffer.decode(errors="replace"))
    returncode = proc.wait()
    wall_s = time.monotonic() - started
    if returncode == 124:
        console.append(f"e2e: QEMU killed by timeout after {timeout_s} s")
    code_file = job / "exit_code"
    exit_code = int(code_file.read_text().strip()) if code_file.exists() else None
    read = lambda name: (job / name).read_text(errors="replace") if (job / name).exists() else ""  # noqa: E731
    files = {str(p.relative_to(job)): p for p in job.rglob("*") if p.is_file()}
    return GuestResult(exit_code=exit_code, stdout=read("stdout"), stderr=read("stderr"),
                       console="\n".join(console), files=files, job=job, boot_s=boot_s, script_s=script_s,
                       wall_s=wall_s, devices=_match_devices(drives, read("devices.txt")))


# --- test discs ---------------------------------------------------------------------------------

def make_iso(path: Path, *, seed: int, files: int = 6, file_bytes: int = 512 * 1024, label: str = "E2E") -> Path:
    """An ISO 9660 + Joliet + Rock Ridge disc of seeded random files (a few MB), built by xorriso."""
    import random

    if not shutil.which("xorriso"):
        raise Unavailable("xorriso is not installed (apt-get install xorriso)")
    rng = random.Random(seed)
    tree = path.with_suffix(".tree")
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "data").mkdir(parents=True)
    for i in range(files):
        (tree / "data" / f"file{i:02d}.bin").write_bytes(rng.randbytes(file_bytes + rng.randrange(SECTOR)))
    (tree / "README.TXT").write_text(f"acquire e2e disc, seed {seed}\n")
    _run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", label, "-o", str(path), str(tree)])
    return path


def make_dvd(path: Path, *, blocks: int = 400_000) -> Path:
    """A sparse file above 360,000 blocks: QEMU reports DVD-ROM (0010h) for it."""
    with open(path, "wb") as f:
        f.truncate(blocks * SECTOR)
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


if __name__ == "__main__":                 # a smoke test: python tests/e2e/harness.py
    print(preflight())
    result = run_guest("uname -r; ls -l /dev/sr* /dev/sg*; $E2E_PYTHON -c 'import acquire, pyudev, sys; print(sys.version)'",
                       [DriveSpec("scsi-cd", make_iso(make_job_dir() / "a.iso", seed=1), serial="E2E-SMOKE")],
                       log=print)
    print(result.exit_code, result.stdout, result.stderr, result.devices, result.boot_s, result.script_s, sep="\n")
