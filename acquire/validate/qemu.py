"""Boot an image in QEMU (software emulation, -accel tcg) and keep what the machine printed and showed.

The guest has a VGA (so there is a screen to screendump) and a serial port; SeaBIOS is told to
mirror its text console to the serial port (fw_cfg etc/sercon-port = 0x3F8, which it does by
itself only when there is no VGA), so what boot loaders print through the BIOS arrives as text.
OVMF writes its console to the serial port on its own. The monitor (a unix socket) takes the
screenshot (`screendump -f png`) and, for BIOS, a copy of the VGA text page at B8000h.

The image is attached read-only (readonly=on): booting can never change it.
"""
from __future__ import annotations

import os
import re
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

QEMU = "qemu-system-x86_64"
OVMF_PATHS = ("/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd", "/usr/share/qemu/OVMF.fd")
SERCON_PORT = (0x3F8).to_bytes(2, "little")
VGA_TEXT = (0xB8000, 80 * 25 * 2)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>c]")


def qemu_path() -> str | None:
    return shutil.which(QEMU)


def ovmf_path() -> str | None:
    return next((p for p in OVMF_PATHS if Path(p).is_file()), None)


def plain(text: str) -> str:
    """Serial output without terminal escapes and carriage returns."""
    return _ANSI.sub("\n", text).replace("\r", "\n")


@dataclass
class Run:
    serial: str                      # what the serial port received, escapes removed
    screen_text: str                 # the VGA text page (BIOS text mode), '' when not taken
    screenshot: Path | None          # the PNG, when the monitor made one
    seconds: float                   # host wall seconds from start to the capture
    timed_out: bool                  # the time limit ended the run, not a recognised outcome
    command: list[str]
    error: str = ""                  # QEMU itself failed (exit status and its last words), else ''


def drive_file(path: Path) -> str:
    """A path as a -drive file= value: QEMU's option syntax doubles a comma."""
    return str(path).replace(",", ",,")


def machine_args(image: Path, medium: str, firmware: str) -> list[str]:
    """The QEMU command line (without the monitor) for booting `image` as a CD or a hard disk."""
    args = [QEMU, "-accel", "tcg", "-m", "256", "-nodefaults", "-no-reboot", "-vga", "std", "-display", "none",
            "-serial", "stdio"]
    if firmware == "uefi":
        args += ["-bios", ovmf_path() or OVMF_PATHS[0]]
    if medium == "cd":
        args += ["-drive", f"if=none,id=boot0,file={drive_file(image)},media=cdrom,readonly=on,format=raw",
                 "-device", "ide-cd,drive=boot0,bootindex=0"]
    else:
        # what dd to a USB stick gives: the image as a disk, from its first byte
        args += ["-drive", f"if=none,id=boot0,file={drive_file(image)},readonly=on,format=raw",
                 "-device", "virtio-blk-pci,drive=boot0,bootindex=0"]
    return args


class _Monitor:
    """The human monitor on a unix socket: one command, read up to the next prompt."""

    def __init__(self, path: Path, deadline: float) -> None:
        self.sock = None
        while time.monotonic() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(path))
                s.settimeout(10)
                self.sock = s
                self._until_prompt()
                return
            except OSError:
                time.sleep(0.05)

    def _until_prompt(self) -> str:
        data = b""
        while not data.endswith(b"(qemu) "):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    def command(self, text: str) -> str:
        if self.sock is None:
            return ""
        try:
            self.sock.sendall(text.encode() + b"\n")
            return self._until_prompt()
        except OSError:
            return ""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def boot(image: Path, *, medium: str, firmware: str, screenshot: Path, time_limit_s: float,
         settled: Callable[[str], float | None]) -> Run:
    """Boot until `settled(serial_text)` returns the seconds to wait before capturing (a recognised
    outcome), or the time limit; then screendump to `screenshot` and stop the machine."""
    work = Path(tempfile.mkdtemp(prefix="acquire-boot-"))
    monitor_path = work / "monitor.sock"
    sercon = work / "sercon-port"
    sercon.write_bytes(SERCON_PORT)
    cmd = machine_args(Path(image).resolve(), medium, firmware)
    cmd += ["-monitor", f"unix:{monitor_path},server=on,wait=off"]
    if firmware == "bios":
        cmd += ["-fw_cfg", f"name=etc/sercon-port,file={sercon}"]
    started = time.monotonic()
    errors = open(work / "qemu.err", "w+b")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
    raw = b""
    capture_at = started + time_limit_s
    recognised = False
    try:
        monitor = _Monitor(monitor_path, started + 10)
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < capture_at and proc.poll() is None:
                if sel.select(timeout=0.1):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    raw += chunk
                if not recognised:
                    wait = settled(plain(raw.decode(errors="replace")))
                    if wait is not None:
                        recognised = True
                        capture_at = min(capture_at, time.monotonic() + wait)
        seconds = time.monotonic() - started
        timed_out = not recognised and seconds >= time_limit_s
        failed = proc.poll()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        shot = work / "screen.png"              # the monitor splits its arguments on spaces: a path of ours
        monitor.command(f"screendump {shot} -f png")
        text_page = work / "vga-text.bin"
        screen_text = ""
        if firmware == "bios":
            monitor.command(f"pmemsave {VGA_TEXT[0]} {VGA_TEXT[1]} {text_page}")
            screen_text = _vga_text(text_page)
        monitor.command("quit")
        monitor.close()
        if shot.exists():
            shutil.move(str(shot), screenshot)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        error = ""
        if failed not in (None, 0):                   # QEMU ended before the capture, and not by the guest's poweroff
            errors.seek(0)
            error = f"{QEMU} exited with status {failed}: " + errors.read().decode(errors="replace").strip()[-300:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errors.close()
        shutil.rmtree(work, ignore_errors=True)
    return Run(plain(raw.decode(errors="replace")), screen_text, screenshot if screenshot.exists() else None,
               round(seconds, 2), timed_out, cmd, error)


def _vga_text(path: Path) -> str:
    """The 80x25 text page: every other byte is a character (code page 437)."""
    if not path.exists():
        return ""
    data = path.read_bytes()
    rows = [data[r * 160:(r + 1) * 160:2].decode("cp437", errors="replace").rstrip() for r in range(25)]
    return "\n".join(rows).strip("\n")
