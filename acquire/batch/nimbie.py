"""The Acronova Nimbie USB Plus NB21 autoloader, over USB with pyusb. UNTESTED ON HARDWARE: built
from the public reverse-engineered protocol notes, and only its byte encoding and decoding are
tested (tests/test_batch_nimbie.py, against the bytes those notes give).

Sources (public; Acronova publishes no protocol):
  [MN] Tormen/my-nimbie, README.md "Nimbie NB21 USB Protocol Reference" (packet format, command
       table, AT+ codes, state bits, timing, mechanical sequence);
  [NP] mattsoulanille/nimbie-py, the original pyusb driver (the same commands and AT+ codes).

The Nimbie moves discs only: the drive's tray is opened and closed by the drive itself, here with
START STOP UNIT (LoEj), a command on acquire's read-only allowlist ([MN] "Mechanical Operation
Sequence"; [NP] uses eject(1)).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import DriveError
from .changer import ChangerError, ChangerGone, LoadFailed, StackEmpty

# [MN] "Device Identification"
VENDOR_ID = 0x1723                  # Acronova Technology Inc.
PRODUCT_ID = 0x0945                 # "NT21"
# [MN] "Endpoint Configuration": interrupt OUT 0x02 (8 bytes), interrupt IN 0x81 (64 bytes)
OUT_ENDPOINT, IN_ENDPOINT = 0x02, 0x81
PACKET_BYTES, IN_BYTES = 8, 64
READ_TIMEOUT_MS = 20_000            # [MN] "USB Read Timeout": shorter ones break the bus
POST_COMMAND_S = 0.3                # [MN] "Timing Requirements": before the first read
RETRACT_S = 0.8                     # [MN] "Dropper Retraction Delay": before the tray closes

# [MN] "Command Table" (command byte, parameter byte)
GET_STATE = (0x43, 0x00)
LIFT_DISC = (0x47, 0x01)            # lift the disc from the open tray
PLACE_DISC = (0x52, 0x01)           # drop the next disc of the hopper onto the open tray
ACCEPT_DISC = (0x52, 0x02)          # drop the lifted disc onto the accept pile
REJECT_DISC = (0x52, 0x03)          # drop the lifted disc onto the reject pile
# never sent: 0x56 jumps to the bootloader, 0x55 is unknown ([MN] "Dangerous Commands")
FORBIDDEN = frozenset({0x55, 0x56})

# [MN] "AT+ Response Codes"
STATUS_TEXT = {
    "AT+O": "accepted", "AT+S00": "no disc in the tray", "AT+S03": "the dropper or gripper is in the way",
    "AT+S07": "disc placed on the tray", "AT+S10": "the tray is in the wrong state (open or closed)",
    "AT+S12": "the tray already holds a disc", "AT+S14": "the hopper is empty",
    "AT+E09": "hardware error or unknown command",
}
DONE = {"AT+O", "AT+S07"}


def command_packet(command: tuple[int, int]) -> bytes:
    """The 8-byte OUT packet ([MN] "Command Packet Format"): command byte at offset 2, parameter at 3."""
    # byte 0-1  0x00 0x00
    # byte 2    command
    # byte 3    parameter
    # byte 4-7  0x00
    cmd, param = command
    if cmd in FORBIDDEN:
        raise ValueError(f"command {cmd:#04x} is never sent: it may put the Nimbie into its bootloader")
    return bytes([0, 0, cmd, param, 0, 0, 0, 0])


def packet_text(packet: bytes) -> str | None:
    """An IN packet as its null-terminated ASCII string; None for an empty (all-zero) packet."""
    # responses are null-terminated ASCII inside 64-byte packets; idle traffic is zero-filled ([MN] "Response Sequence")
    text = bytes(packet).split(b"\x00", 1)[0]
    return text.decode("ascii", "replace") if text else None


@dataclass(frozen=True, slots=True)
class NimbieState:
    disc_available: bool            # discs in the input hopper
    disc_in_tray: bool              # a disc on the open tray (never seen in a closed drive)
    disc_lifted: bool               # the gripper holds a disc
    tray_out: bool                  # the drive's tray is open


def parse_state(text: str) -> NimbieState:
    """GET_STATE's "{xxxxxxxxx}": bit 1 disc available, 3 disc in tray, 4 lifted, 5 tray out
    ([MN] "State Bit String Format", the positions nimbiestatemachine confirmed on hardware; [NP]
    read them one place later)."""
    if not (text.startswith("{") and text.endswith("}")) or len(text) < 8:
        raise ChangerError(f"the Nimbie's state {text!r} is not {{xxxxxxxxx}}")
    bits = text[1:-1]
    return NimbieState(bits[1] == "1", bits[3] == "1", bits[4] == "1", bits[5] == "1")


def final_status(texts: list[str]) -> str | None:
    """The last AT+ code among a command's response strings (the final result of a mechanical one)."""
    codes = [t for t in texts if t.startswith("AT+")]
    return codes[-1] if codes else None


def status_error(code: str | None, what: str) -> ChangerError | None:
    """The exception for a command's final AT+ code; None when it succeeded."""
    if code in DONE:
        return None
    if code == "AT+S14":
        return StackEmpty("the Nimbie's hopper is empty")
    text = STATUS_TEXT.get(code or "", "no answer")
    if what == "place" and code in ("AT+S03", "AT+S10", "AT+S12"):
        return LoadFailed(f"the Nimbie could not place the disc: {code} ({text})")
    return ChangerError(f"the Nimbie could not {what}: {code} ({text})")


class NimbieChanger:
    """One Nimbie NB21 and the drive inside it (the drive's device is given; the Nimbie cannot say
    which it is)."""

    def __init__(self, device: str, *, index: int = 0) -> None:
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise ChangerError("the Nimbie needs pyusb", hint="pip install 'acquire-disc[nimbie]'") from exc
        found = list(usb.core.find(find_all=True, idVendor=VENDOR_ID, idProduct=PRODUCT_ID) or [])
        if len(found) <= index:
            raise ChangerGone(f"no Nimbie NB21 (USB {VENDOR_ID:04x}:{PRODUCT_ID:04x}) number {index} on this machine",
                              hint="check its USB cable and power, and that you may use the device (udev rule)")
        self.dev, self.device, self._usb = found[index], device, usb
        self.dev.set_configuration()          # one configuration, one interface (0, 0) ([MN])

    def drives(self) -> list[tuple[str, str]]:
        return [("nimbie", self.device)]

    # -- USB ---------------------------------------------------------------------------------
    def _send(self, command: tuple[int, int], what: str, *, expect: int = 1) -> list[str]:
        try:
            self.dev.write(OUT_ENDPOINT, command_packet(command), READ_TIMEOUT_MS)
            time.sleep(POST_COMMAND_S)
            texts: list[str] = []
            while True:                        # until the final AT+ code (or an empty read after it)
                text = packet_text(self.dev.read(IN_ENDPOINT, IN_BYTES, READ_TIMEOUT_MS))
                if text is not None:
                    texts.append(text)
                if sum(t.startswith("AT+") for t in texts) >= expect and (text is None or text.startswith("AT+")):
                    return texts
        except self._usb.core.USBError as exc:
            raise ChangerGone(f"the Nimbie stopped answering while it was asked to {what} ({exc})",
                              hint="power it off and on; the batch resumes where it stopped") from exc

    def state(self) -> NimbieState:
        texts = self._send(GET_STATE, "report its state")
        return parse_state(next((t for t in texts if t.startswith("{")), ""))

    def _mechanical(self, command: tuple[int, int], what: str) -> None:
        # mechanical commands answer AT+O, then their result code when the mechanism has moved ([MN])
        error = status_error(final_status(self._send(command, what, expect=2)), what)
        if error is not None:
            raise error

    # -- the drive's tray ------------------------------------------------------------------------
    def _tray(self, open_it: bool) -> None:
        from ..drive.device import open_drive
        from ..drive.mmc.unit import prevent_allow_medium_removal, start_stop_unit

        try:
            drive = open_drive(self.device)
        except DriveError as exc:
            raise ChangerError(f"cannot {'open' if open_it else 'close'} the tray of {self.device}: {exc}") from exc
        try:
            drive.command(prevent_allow_medium_removal(False))
            drive.command(start_stop_unit(start=not open_it, load_eject=True))
        finally:
            drive.close()

    # -- the Changer interface -------------------------------------------------------------------
    def load(self, drive: str, hint: str) -> None:
        if not self.state().disc_available:
            raise StackEmpty("the Nimbie's hopper is empty")
        self._tray(open_it=True)
        self._mechanical(PLACE_DISC, "place")
        time.sleep(RETRACT_S)
        self._tray(open_it=False)

    def unload(self, drive: str, pile: str, hint: str) -> None:
        self._tray(open_it=True)
        self._mechanical(LIFT_DISC, "lift the disc")
        self._tray(open_it=False)
        self._mechanical(ACCEPT_DISC if pile == "accept" else REJECT_DISC, f"drop the disc on the {pile} pile")

    def tray(self, drive: str) -> bool:
        """Whether the drive holds a disc: the Nimbie cannot see into a closed drive ([MN] "Disc in
        Closed Drive Detection"), so the drive is asked (TEST UNIT READY through its identity)."""
        from ..drive.device import open_drive

        try:
            drive_ = open_drive(self.device)
            try:
                drive_.wait_ready()
                return drive_.medium().capacity > 0
            finally:
                drive_.close()
        except DriveError:
            return False

    def close(self) -> None:
        self._usb.util.dispose_resources(self.dev)
