"""`acquire info`: what the drive is and what disc it holds, without imaging it."""
from __future__ import annotations

from .drive.device import SECTOR_BYTES, open_drive
from .drive.layout import layout_of
from .fs.volume import PVD_LBA, parse_primary_volume

DISC_STATUS = {0: "empty", 1: "incomplete (appendable)", 2: "complete", 3: "other (ROM or not recordable)"}


def layout_lines(layout: dict) -> list[str]:
    """`acquire info`'s lines for the recorded layout: sessions, tracks, what holds no data."""
    out = [f"session  {s['session']}: LBA {s['start']}-{s['end'] - 1}, tracks {', '.join(map(str, s['tracks']))}"
           for s in layout["sessions"]]
    out += [f"track    {t['track']} (session {t['session']}) LBA {t['start']}-{t['end'] - 1}"
            f"{'  audio' if t['audio'] else ''}" for t in layout["tracks"]]
    out += [f"no data  LBA {n['start']}-{n['start'] + n['count'] - 1} ({n['count']} sectors): {n['kind']}"
            for n in layout["not_recorded"]]
    out += [f"run-out? LBA {s}-{s + c - 1}: read alone before imaging (a TAO track's run-out fails there)"
            for s, c in layout.get("run_out_candidates", [])]
    out += [f"differs  {m}" for m in layout["disagreements"]]
    return out


def disc_info(device: str) -> dict:
    """Drive identity, current profile, capacity, TOC, disc status and the ISO 9660 label."""
    drive = open_drive(device)
    try:
        identity = drive.identify()
        drive.wait_ready()
        medium = drive.medium()
        label, volume = None, None
        if medium.capacity > PVD_LBA:
            result = drive.read(PVD_LBA, 1)
            pvd = parse_primary_volume(result.data) if result.ok else None
            if pvd is not None:
                label, volume = pvd.volume_id, pvd.as_dict()
        di = medium.disc_information_summary()
        layout = layout_of(drive, medium)
        return {
            "device": device,
            "drive": {"vendor": identity.vendor, "product": identity.product, "revision": identity.revision,
                      "serial": identity.serial},
            "medium": {
                "profile": medium.profile, "profile_name": medium.profile_name, "family": medium.family,
                "capacity": medium.capacity, "capacity_bytes": medium.capacity * SECTOR_BYTES,
                "sector_size": SECTOR_BYTES, "toc": medium.toc_summary(), "disc_information": di,
                "disc_status": DISC_STATUS.get(di["disc_status"], "unknown") if di else None,
                "features": [f"{c:04X}" for c in medium.features],
                "volume_label": label, "volume": volume,
            },
            "layout": layout.as_dict(),         # sessions, tracks, not-recorded extents (drive/layout.py)
            "fallbacks": list(drive.fallbacks),
        }
    finally:
        drive.close()
