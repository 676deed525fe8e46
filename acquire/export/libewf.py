"""A small ctypes binding to libewf (Debian's libewf2, `libewf.so.2`): just enough to write an EWF image.

Why our own: the PyPI wheel (libewf-python) is compiled without zlib and cannot write, and Debian's
python3-libewf has no setters. Only the shared library is needed at run time, never libewf-dev.

Every constant below is copied from libewf 20140813's public headers as Debian ships them in
libewf-dev (/usr/include/libewf/definitions.h, the same text as libyal/libewf
include/libewf/definitions.h.in); the prototypes are from /usr/include/libewf.h (libyal/libewf
include/libewf.h.in). Each function returns 1 (or a byte count) on success and -1 on error,
filling a libewf_error_t that libewf_error_sprint turns into text: every failure becomes one
AcquireError line naming the function.

    with EwfWriter.create(basename) as ewf:   # libewf adds .E01, .E02 ...
        ewf.set_format(LIBEWF_FORMAT_ENCASE6) ... ewf.write(data) ... ewf.finalize()
"""
from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

from ..errors import AcquireError

LIBRARY = "libewf.so.2"              # Debian/Ubuntu package libewf2
INSTALL_HINT = "install it with apt-get install libewf2"

# definitions.h enum LIBEWF_ACCESS_FLAGS: LIBEWF_ACCESS_FLAG_WRITE = 0x02;
# #define LIBEWF_OPEN_WRITE ( LIBEWF_ACCESS_FLAG_WRITE )
LIBEWF_OPEN_WRITE = 0x02
# definitions.h enum LIBEWF_FORMAT: LIBEWF_FORMAT_ENCASE6 = 0x06
LIBEWF_FORMAT_ENCASE6 = 0x06
# definitions.h enum LIBEWF_MEDIA_TYPES: LIBEWF_MEDIA_TYPE_OPTICAL = 0x03 (CD/DVD/BD)
LIBEWF_MEDIA_TYPE_OPTICAL = 0x03
# definitions.h enum LIBEWF_MEDIA_FLAGS: LIBEWF_MEDIA_FLAG_PHYSICAL = 0x02 (a whole medium, not a partition or files)
LIBEWF_MEDIA_FLAG_PHYSICAL = 0x02
# definitions.h enum LIBEWF_COMPRESSION_LEVELS: NONE = 0, FAST = 1, BEST = 2 (deflate levels libewf picks)
LIBEWF_COMPRESSION_NONE = 0
LIBEWF_COMPRESSION_FAST = 1
LIBEWF_COMPRESSION_BEST = 2
COMPRESSION_LEVELS = {"none": LIBEWF_COMPRESSION_NONE, "fast": LIBEWF_COMPRESSION_FAST, "best": LIBEWF_COMPRESSION_BEST}
# definitions.h enum LIBEWF_COMPRESSION_FLAGS: LIBEWF_COMPRESS_FLAG_USE_EMPTY_BLOCK_COMPRESSION = 0x01;
# we pass 0: "none" means no chunk is compressed, not even an all-zero one
LIBEWF_COMPRESSION_FLAGS_NONE = 0x00

# libewf.h names the header values by these identifiers (the libewf_handle_set_utf8_header_value_*
# macros: "case_number", "description", "examiner_name", ...); "acquiry_software" has no macro but
# is the identifier libewf's own ewfacquire sets (libyal/libewf ewftools/ewfacquire.c). EnCase 6
# headers have no slot for it, so libewf keeps it only in formats that do (docs/export.md).
# "acquiry_date" takes a POSIX timestamp in decimal (libewf 20140813 stores the header2 date so).
HEADER_VALUES = (
    "case_number", "evidence_number", "examiner_name", "description", "notes", "acquiry_software",
    "acquiry_software_version", "acquiry_operating_system", "acquiry_date", "model", "serial_number",
)
# libewf.h: libewf_handle_set_utf8_hash_value_md5 / _sha1 use the identifiers "MD5" and "SHA1"
HASH_IDENTIFIERS = {"md5": b"MD5", "sha1": b"SHA1"}

_ERROR_TEXT_BYTES = 4096

_lib: ctypes.CDLL | None = None


def load() -> ctypes.CDLL:
    """libewf.so.2 with the prototypes we use; AcquireError (one line, how to install) without it."""
    global _lib
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise AcquireError(f"E01 export needs libewf ({LIBRARY} not found)", hint=INSTALL_HINT) from exc
    handle, error, p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER
    u8, u32, u64, size = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
    prototypes = {
        # name: (restype, argtypes) as in libewf.h
        "libewf_get_version": (ctypes.c_char_p, []),
        "libewf_error_sprint": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, size]),
        "libewf_error_free": (None, [error]),
        "libewf_handle_initialize": (ctypes.c_int, [p(handle), error]),
        "libewf_handle_free": (ctypes.c_int, [p(handle), error]),
        "libewf_handle_open": (ctypes.c_int, [handle, p(ctypes.c_char_p), ctypes.c_int, ctypes.c_int, error]),
        "libewf_handle_close": (ctypes.c_int, [handle, error]),
        "libewf_handle_set_format": (ctypes.c_int, [handle, u8, error]),
        "libewf_handle_set_media_size": (ctypes.c_int, [handle, u64, error]),
        "libewf_handle_set_bytes_per_sector": (ctypes.c_int, [handle, u32, error]),
        "libewf_handle_set_media_type": (ctypes.c_int, [handle, u8, error]),
        "libewf_handle_set_media_flags": (ctypes.c_int, [handle, u8, error]),
        "libewf_handle_set_compression_values": (ctypes.c_int, [handle, ctypes.c_int8, u8, error]),
        "libewf_handle_set_maximum_segment_size": (ctypes.c_int, [handle, u64, error]),
        "libewf_handle_set_utf8_header_value": (ctypes.c_int, [handle, ctypes.c_char_p, size, ctypes.c_char_p, size, error]),
        "libewf_handle_set_utf8_hash_value": (ctypes.c_int, [handle, ctypes.c_char_p, size, ctypes.c_char_p, size, error]),
        "libewf_handle_append_acquiry_error": (ctypes.c_int, [handle, u64, u64, error]),
        "libewf_handle_write_buffer": (ctypes.c_ssize_t, [handle, ctypes.c_char_p, size, error]),
        "libewf_handle_write_finalize": (ctypes.c_ssize_t, [handle, error]),
    }
    for name, (restype, argtypes) in prototypes.items():
        try:
            function = getattr(lib, name)
        except AttributeError as exc:
            raise AcquireError(f"{LIBRARY} has no {name}: too old a libewf", hint=INSTALL_HINT) from exc
        function.restype, function.argtypes = restype, argtypes
    _lib = lib
    return lib


def version() -> str:
    return load().libewf_get_version().decode("ascii", "replace")


class EwfWriter:
    """One libewf handle opened for writing a segment set under `basename`."""

    def __init__(self, basename: Path) -> None:
        self._lib = load()
        self.basename = Path(basename)
        self._handle = ctypes.c_void_p()
        self._open = False
        self._call("libewf_handle_initialize", ctypes.byref(self._handle))
        try:
            names = (ctypes.c_char_p * 1)(bytes(self.basename))
            self._call("libewf_handle_open", self._handle, names, 1, LIBEWF_OPEN_WRITE)
            self._open = True
        except BaseException:
            self._free()
            raise

    # -- settings: call before the first write ---------------------------------------------------
    def set_format(self, value: int) -> None:
        self._call("libewf_handle_set_format", self._handle, value)

    def set_media_size(self, size_bytes: int) -> None:
        self._call("libewf_handle_set_media_size", self._handle, size_bytes)

    def set_bytes_per_sector(self, value: int) -> None:
        self._call("libewf_handle_set_bytes_per_sector", self._handle, value)

    def set_media_type(self, value: int) -> None:
        self._call("libewf_handle_set_media_type", self._handle, value)

    def set_media_flags(self, value: int) -> None:
        self._call("libewf_handle_set_media_flags", self._handle, value)

    def set_compression(self, level: int, flags: int = LIBEWF_COMPRESSION_FLAGS_NONE) -> None:
        self._call("libewf_handle_set_compression_values", self._handle, level, flags)

    def set_maximum_segment_size(self, size_bytes: int) -> None:
        self._call("libewf_handle_set_maximum_segment_size", self._handle, size_bytes)

    def set_header_value(self, identifier: str, value: str) -> None:
        key, text = identifier.encode("ascii"), value.encode("utf-8")
        self._call("libewf_handle_set_utf8_header_value", self._handle, key, len(key), text, len(text),
                   what=f"header value {identifier}")

    def set_hash_value(self, algorithm: str, hex_digest: str) -> None:
        key, text = HASH_IDENTIFIERS[algorithm], hex_digest.encode("ascii")
        self._call("libewf_handle_set_utf8_hash_value", self._handle, key, len(key), text, len(text),
                   what=f"hash value {algorithm}")

    def append_acquiry_error(self, start_sector: int, number_of_sectors: int) -> None:
        self._call("libewf_handle_append_acquiry_error", self._handle, start_sector, number_of_sectors)

    # -- data ------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        written = self._call("libewf_handle_write_buffer", self._handle, data, len(data))
        if written != len(data):
            raise AcquireError(f"libewf wrote {written} of {len(data)} bytes to {self.basename}")

    def finalize(self) -> None:
        """Write the closing sections (hashes, error list, table); the set is complete after close()."""
        self._call("libewf_handle_write_finalize", self._handle)

    def close(self) -> None:
        try:
            if self._open:
                self._open = False
                self._call("libewf_handle_close", self._handle)
        finally:
            self._free()

    def __enter__(self) -> EwfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:                            # already failing: keep that error, not a second one from close
            try:
                self.close()
            except AcquireError:
                pass

    # -- internals -------------------------------------------------------------------------------
    def _free(self) -> None:
        if self._handle:
            self._call("libewf_handle_free", ctypes.byref(self._handle))

    def _call(self, name: str, *args, what: str = ""):
        error = ctypes.c_void_p()
        result = getattr(self._lib, name)(*args, ctypes.byref(error))
        if result == -1:
            raise AcquireError(f"libewf {name.removeprefix('libewf_handle_')}"
                               f"{' (' + what + ')' if what else ''} failed for {self.basename}: {self._text(error)}")
        return result

    def _text(self, error: ctypes.c_void_p) -> str:
        if not error:
            return "no error detail"
        buffer = ctypes.create_string_buffer(_ERROR_TEXT_BYTES)
        count = self._lib.libewf_error_sprint(error, buffer, _ERROR_TEXT_BYTES)
        self._lib.libewf_error_free(ctypes.byref(error))
        text = buffer.value.decode("utf-8", "replace") if count > 0 else "no error detail"
        return " ".join(text.split())     # libewf's text spans lines, one per layer: one line for the user
