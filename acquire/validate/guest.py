"""A Debian kernel and a busybox initramfs for QEMU guests: the one machinery tests/e2e and validate share.

Why here and not in tests/: `acquire validate` mounts images in such a guest (the kernel's own
iso9660, udf and hfsplus drivers are the reference), so the product needs it; tests/e2e/harness.py
builds its guests with these same functions. Measured facts: docs/reference/qemu.md.

    vmlinuz, moddir, release = kernel(cache, modules)
    initrd = initramfs(cache, init_text, modules)        # rebuilt when init, kernel or modules change
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("ACQUIRE_GUEST_CACHE", Path.home() / ".cache" / "acquire" / "guest"))


class GuestUnavailable(Exception):
    """What a guest needs cannot be had here (no QEMU, no busybox, no kernel package); says what to install."""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def kernel_package_name() -> str:
    """The package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64."""
    override = os.environ.get("ACQUIRE_E2E_KERNEL_PACKAGE")
    if override:
        return override
    try:
        out = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GuestUnavailable(f"apt-cache cannot name the kernel package ({exc})") from exc
    names = re.findall(r"Depends:\s*(linux-image-\S+)", out)
    if not names:
        raise GuestUnavailable(f"apt-cache depends linux-image-amd64 names no kernel package:\n{out}")
    return names[0]


def _kernel_deb(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob("linux-image-*.deb"))
    if not debs:
        package = kernel_package_name()
        try:
            # apt's sandbox user cannot write here; it downloads as root with a warning, harmlessly.
            _run(["apt-get", "download", package], cwd=cache)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise GuestUnavailable(f"apt-get download {package} failed: {detail}") from exc
        debs = sorted(cache.glob("linux-image-*.deb"))
        if not debs:
            raise GuestUnavailable(f"apt-get download {package} left no .deb in {cache}")
    return debs[-1]


def kernel(cache: Path, modules: list[str]) -> tuple[Path, Path, str]:
    """(vmlinuz, modules directory, kernel release), downloaded once into `cache` and unpacked with
    only the kernel and `modules` (25 MB instead of 400 MB), one unpacked tree per module set."""
    deb = _kernel_deb(cache)
    key = hashlib.sha256(" ".join(sorted(modules)).encode()).hexdigest()[:8]
    unpacked = cache / f"{deb.stem}-{key}"
    if not (unpacked / ".done").exists():
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir()
        tar = subprocess.Popen(["tar", "-x", "-C", str(unpacked), "--wildcards", "./boot/vmlinuz-*",
                                *[f"*/{m}.ko*" for m in modules]], stdin=subprocess.PIPE)
        subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=tar.stdin, check=True)
        tar.stdin.close()
        if tar.wait() != 0:
            raise GuestUnavailable(f"cannot unpack {deb}")
        (unpacked / ".done").touch()
    vmlinuz = next((unpacked / "boot").glob("vmlinuz-*"))
    release = vmlinuz.name.removeprefix("vmlinuz-")
    return vmlinuz, unpacked / "lib" / "modules" / release, release


def busybox() -> Path:
    path = shutil.which("busybox") or "/bin/busybox"
    if not Path(path).exists():
        raise GuestUnavailable("busybox is not installed (apt-get install busybox-static)")
    if shutil.which("file") and "statically linked" not in _run(["file", "-L", path]).stdout:
        raise GuestUnavailable(f"{path} is not statically linked (apt-get install busybox-static)")
    return Path(path)


def initramfs(cache: Path, init: str, modules: list[str], *, name: str = "initrd") -> tuple[Path, Path, str]:
    """(vmlinuz, initrd, kernel release): a busybox initramfs whose /init is `init` and whose
    /modules holds `modules` (listed in load order in /modules.list). Cached under a key of
    everything that goes in; older ones of the same `name` are removed."""
    vmlinuz, moddir, release = kernel(cache, modules)
    bb = busybox()
    key = hashlib.sha256((init + release + " ".join(modules) + str(bb.stat().st_size)).encode()).hexdigest()[:16]
    initrd = cache / f"{name}-{release}-{key}.cpio"
    for stale in cache.glob(f"{name}-*.cpio"):
        if stale != initrd:
            stale.unlink(missing_ok=True)
    if initrd.exists():
        return vmlinuz, initrd, release
    with tempfile.TemporaryDirectory(prefix="acquire-initrd-") as tmp:
        root = Path(tmp)
        for d in ("bin", "proc", "sys", "dev", "modules", "tmp", "mnt"):
            (root / d).mkdir()
        shutil.copy2(bb, root / "bin" / "busybox")
        (root / "bin" / "sh").symlink_to("busybox")
        for module in modules:
            found = sorted(moddir.rglob(f"{module}.ko"))
            if not found:
                raise GuestUnavailable(f"module {module}.ko is not in {moddir}")
            shutil.copy2(found[0], root / "modules" / f"{module}.ko")
        (root / "modules.list").write_text("\n".join(modules) + "\n")
        (root / "init").write_text(init)
        (root / "init").chmod(0o755)
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        partial = initrd.with_suffix(f".part{os.getpid()}")
        with open(partial, "wb") as out:
            subprocess.run([str(bb), "cpio", "-o", "-H", "newc"], input="\n".join(names).encode() + b"\n",
                           cwd=root, stdout=out, stderr=subprocess.DEVNULL, check=True)
        partial.rename(initrd)
    return vmlinuz, initrd, release
