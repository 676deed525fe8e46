"""acquire: forensic raw acquisition of optical discs (CD, DVD, BD) over SCSI/MMC.

The small public API; everything else is internal. Names load on first use, so
`acquire info` does not pay for the imaging machinery.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "AcquireError",
    "ImageOptions",
    "Outcome",
    "Verification",
    "__version__",
    "acquire_image",
    "disc_info",
    "find_drives",
    "open_drive",
    "verify",
]

_WHERE = {
    "AcquireError": "errors",
    "ImageOptions": "imaging",
    "Outcome": "imaging",
    "acquire_image": "api",
    "Verification": "verify",
    "verify": "verify",
    "disc_info": "info",
    "find_drives": "drive.discovery",
    "open_drive": "drive.device",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'acquire' has no attribute {name!r}")
