"""Quirks of the simulated drive: what real drives do beside (or against) MMC, one [drive] key each.

The first set is what our e2e suite measured on QEMU's emulated drives through a real kernel
(docs/e2e.md, docs/reference/qemu.md); `emulate = "qemu-scsi-cd"` or `"qemu-ide-cd"` turns on all of
one drive's quirks at once, and any key given beside it overrides the preset. docs/simulated-drive.md
lists every key with what the real stack showed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .codes import COMMANDS

INFORMATION = ("first-bad-lba", "none", "zero")
TOC_FORMAT_FROM = ("either", "byte 2", "byte 9")
_SENSE_RE = re.compile(r"^([0-9A-Fa-f]{1,2})/([0-9A-Fa-f]{2})/([0-9A-Fa-f]{2})$")


@dataclass(frozen=True, slots=True)
class Quirks:
    emulate: str | None = None
    unsupported: frozenset[int] = frozenset()         # opcodes answered 05/20/00
    information: str = "first-bad-lba"                 # INFORMATION of every sense: see INFORMATION
    medium_error_sense: tuple[int, int, int] | None = None   # replaces every damage entry's sense
    resid_zero_on_failure: bool = False               # a failed data-in command still "returns" its buffer
    toc_format_from: str = "either"                   # where READ TOC takes its format: see TOC_FORMAT_FROM
    request_sense_sticky: bool = False                # REQUEST SENSE: the last error's sense, until the next
    mode_sense_current_only: bool = False             # MODE SENSE page control 1 or 2: 05/24/00
    mode_select_changes: bool = True                  # false: page 01h changeable mask all zero
    set_speed_ignored: bool = False                   # SET CD SPEED / SET STREAMING: GOOD, no effect
    pad_to_allocation: frozenset[int] = frozenset()   # opcodes whose GOOD answers fill the whole buffer


def _names(*names: str) -> frozenset[int]:
    return frozenset(COMMANDS[n] for n in names)


# docs/e2e.md "MMC commands, as our SgTransport saw them" (QEMU 7.2.22, kernel 6.1.0-56-amd64)
PRESETS: dict[str, tuple[dict[str, str], Quirks]] = {
    "qemu-scsi-cd": (
        {"vendor": "QEMU", "product": "QEMU CD-ROM", "revision": "2.5+"},
        Quirks(emulate="qemu-scsi-cd",
               # READ SUB-CHANNEL: the real drive fails it with a transport error (host_status 07h,
               # docs/reference/qemu.md); 05/20/00 here is the nearest a CHECK CONDITION comes
               unsupported=_names("READ CD", "SET CD SPEED", "READ TRACK INFORMATION", "GET PERFORMANCE",
                                  "SET STREAMING", "READ SUB-CHANNEL"),
               information="none", resid_zero_on_failure=True, toc_format_from="byte 2",
               mode_select_changes=False, pad_to_allocation=_names("READ TOC", "MODE SENSE(10)"))),
    "qemu-ide-cd": (
        {"vendor": "QEMU", "product": "QEMU DVD-ROM", "revision": "2.5+"},
        Quirks(emulate="qemu-ide-cd",
               unsupported=_names("READ TRACK INFORMATION", "GET PERFORMANCE", "SET STREAMING", "MODE SELECT(10)",
                                  "READ SUB-CHANNEL"),
               information="zero", medium_error_sense=(0x05, 0x21, 0x00), resid_zero_on_failure=True,
               toc_format_from="byte 9", request_sense_sticky=True, mode_sense_current_only=True,
               set_speed_ignored=True,
               pad_to_allocation=_names("READ TOC", "MODE SENSE(10)", "REQUEST SENSE"))),
}
_BOOLS = ("resid_zero_on_failure", "request_sense_sticky", "mode_sense_current_only", "mode_select_changes",
          "set_speed_ignored")
KEYS = {"emulate", "report_information", "unsupported", "information", "medium_error_sense",
        "toc_format_from", "pad_to_allocation", *_BOOLS}


def parse_quirks(fail, drive: dict[str, Any], get) -> tuple[Quirks, dict[str, str]]:
    """The [drive] table's quirk keys -> (Quirks, INQUIRY defaults of the preset).

    `fail(message, hint)` makes the ProfileError; `get(table, key, type, label)` reads a typed value.
    """
    quirks, identity = Quirks(), {}
    if "emulate" in drive:
        name = get(drive, "emulate", str, "[drive]")
        if name not in PRESETS:
            raise fail(f"[drive] emulate {name!r} is unknown", hint=f"give {' or '.join(sorted(PRESETS))}")
        identity, quirks = PRESETS[name]
        if name == "qemu-ide-cd" and "serial" in drive:
            # docs/e2e.md: INQUIRY VPD 80h is 05/24/00 on the ide-cd even with QEMU's serial=
            raise fail("[drive] serial: qemu-ide-cd reports no serial number", hint="remove serial")
    changes: dict[str, Any] = {}
    for key in ("unsupported", "pad_to_allocation"):
        if key in drive:
            changes[key] = _command_list(fail, drive[key], key)
    if "report_information" in drive and "information" in drive:
        raise fail("[drive] give information or report_information, not both")
    if "report_information" in drive:
        changes["information"] = "first-bad-lba" if get(drive, "report_information", bool, "[drive]") else "none"
    for key, allowed in (("information", INFORMATION), ("toc_format_from", TOC_FORMAT_FROM)):
        if key in drive:
            value = get(drive, key, str, "[drive]")
            if value not in allowed:
                raise fail(f"[drive] {key} {value!r} is unknown", hint="give " + ", ".join(f'"{a}"' for a in allowed))
            changes[key] = value
    if "medium_error_sense" in drive:
        text = get(drive, "medium_error_sense", str, "[drive]")
        m = _SENSE_RE.match(text)
        if not m or int(m.group(1), 16) > 0x0F:
            raise fail(f"[drive] medium_error_sense {text!r} is not SK/ASC/ASCQ in hex", hint='e.g. "05/21/00"')
        changes["medium_error_sense"] = tuple(int(g, 16) for g in m.groups())
    for key in _BOOLS:
        if key in drive:
            changes[key] = get(drive, key, bool, "[drive]")
    return replace(quirks, **changes), dict(identity)


def _command_list(fail, value: Any, key: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"[drive] {key} must be a list of command names, not {value!r}", hint='e.g. ["READ CD"]')
    unknown = [v for v in value if v not in COMMANDS]
    if unknown:
        raise fail(f"[drive] {key}: unknown command {unknown[0]!r}", hint="known: " + ", ".join(COMMANDS))
    return frozenset(COMMANDS[v] for v in value)
