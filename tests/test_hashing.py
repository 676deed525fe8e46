import hashlib
import random
import shutil
import subprocess
import zlib

import pytest
import blake3
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from acquire.errors import AcquireError
from acquire.hashing import ALGORITHMS, WINDOW_BYTES, Hashes, StreamHasher, Window, compare_windows, hash_file
from acquire.sumfiles import write_sfv, write_sum_files

SMALL_WINDOW = 4096      # small windows keep the window-boundary cases fast


def expected(data: bytes, window_bytes: int = WINDOW_BYTES) -> Hashes:
    """The oracle: hashlib and xxhash over the whole buffer, in one call each."""
    windows = tuple(
        Window(i, offset, len(piece), xxhash.xxh3_128_hexdigest(piece), None, blake3.blake3(piece).hexdigest())
        for i, offset in enumerate(range(0, len(data), window_bytes))
        for piece in [data[offset:offset + window_bytes]])
    return Hashes(len(data), hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
                  hashlib.sha256(data).hexdigest(), xxhash.xxh3_128_hexdigest(data), f"{zlib.crc32(data):08x}", windows)


def stream(data: bytes, splits=(), **kwargs) -> Hashes:
    hasher = StreamHasher(**kwargs)
    start = 0
    for end in sorted(splits) + [len(data)]:
        hasher.update(data[start:end])
        start = end
    assert hasher.size == len(data)
    return hasher.finish()


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, SMALL_WINDOW - 1, SMALL_WINDOW, SMALL_WINDOW + 1,
                                  3 * SMALL_WINDOW - 1, 3 * SMALL_WINDOW, 3 * SMALL_WINDOW + 1, 10 * SMALL_WINDOW + 7])
@pytest.mark.parametrize("chunk_windows", [1, 2, 3, 8])
def test_stream_hashes_equal_hashlib_and_xxhash_at_every_boundary(size, chunk_windows):
    data = random.Random(size).randbytes(size)
    got = stream(data, window_bytes=SMALL_WINDOW, chunk_bytes=chunk_windows * SMALL_WINDOW)
    assert got == expected(data, SMALL_WINDOW)


@pytest.mark.parametrize("size", [0, 1, 2047, WINDOW_BYTES - 1, WINDOW_BYTES, WINDOW_BYTES + 1, (2 << 20) + 1,
                                  (4 << 20) - 1, 4 << 20, (4 << 20) + 1, 9 * WINDOW_BYTES + 12345])
def test_default_windows_and_chunks_match_the_oracle(size):
    data = random.Random(size).randbytes(size)
    assert stream(data, splits=[size // 3]) == expected(data)


def test_the_last_window_is_short_and_windows_tile_the_stream():
    data = random.Random(1).randbytes(2 * WINDOW_BYTES + 100)
    windows = stream(data).windows
    assert [(w.index, w.offset, w.length) for w in windows] == [
        (0, 0, WINDOW_BYTES), (1, WINDOW_BYTES, WINDOW_BYTES), (2, 2 * WINDOW_BYTES, 100)]


def test_an_empty_stream_has_the_empty_digests_and_no_windows():
    got = StreamHasher().finish()
    assert got.as_dict() == {"md5": hashlib.md5().hexdigest(), "sha1": hashlib.sha1().hexdigest(),
                             "sha256": hashlib.sha256().hexdigest(), "xxh128": xxhash.xxh3_128_hexdigest(b""),
                             "crc32": "00000000"}
    assert (got.size, got.windows) == (0, ())


def test_as_dict_holds_exactly_the_five_algorithms():
    assert tuple(stream(b"abc").as_dict()) == ALGORITHMS


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=40_000),
       cuts=st.lists(st.integers(min_value=0, max_value=40_000), max_size=12),
       chunk_windows=st.integers(min_value=1, max_value=4))
def test_any_split_of_the_feed_gives_the_same_hashes(data, cuts, chunk_windows):
    splits = [c for c in cuts if c <= len(data)]
    got = stream(data, splits, window_bytes=2048, chunk_bytes=chunk_windows * 2048)
    assert got == expected(data, 2048)


def test_update_copies_so_the_caller_may_reuse_its_buffer():
    buffer = bytearray(b"a" * 5000)
    hasher = StreamHasher(window_bytes=2048, chunk_bytes=8192)
    hasher.update(buffer)
    buffer[:] = b"b" * 5000
    hasher.update(memoryview(buffer))
    assert hasher.finish() == expected(b"a" * 5000 + b"b" * 5000, 2048)


def test_chunk_size_must_be_a_multiple_of_the_window():
    with pytest.raises(ValueError, match="multiple"):
        StreamHasher(window_bytes=4096, chunk_bytes=6144)


def test_a_finished_or_aborted_hasher_refuses_more_input():
    hasher = StreamHasher()
    hasher.update(b"x" * 10)
    hasher.abort()
    hasher.abort()
    with pytest.raises(RuntimeError):
        hasher.update(b"more")
    done = StreamHasher()
    done.finish()
    with pytest.raises(RuntimeError):
        done.finish()


def test_abort_with_a_backlog_returns_promptly():
    hasher = StreamHasher(chunk_bytes=1 << 20)
    hasher.update(bytes(8 << 20))
    hasher.abort()
    assert all(not t.is_alive() for t in hasher._threads)


@pytest.mark.parametrize("size", [0, 1, 5 * SMALL_WINDOW + 3, 16 * SMALL_WINDOW])
def test_hash_file_equals_the_stream_hasher(tmp_path, size):
    data = random.Random(size).randbytes(size)
    path = tmp_path / "disc.iso"
    path.write_bytes(data)
    got = hash_file(path, window_bytes=SMALL_WINDOW, chunk_bytes=4 * SMALL_WINDOW)
    assert got == stream(data, window_bytes=SMALL_WINDOW, chunk_bytes=2 * SMALL_WINDOW) == expected(data, SMALL_WINDOW)


def test_hash_file_with_default_sizes_matches_the_oracle(tmp_path):
    data = random.Random(3).randbytes(9 * WINDOW_BYTES + 2048)
    path = tmp_path / "disc.iso"
    path.write_bytes(data)
    assert hash_file(path) == expected(data)


def test_hash_file_of_a_missing_image_is_one_clear_error(tmp_path):
    with pytest.raises(AcquireError, match=r"cannot read image .*gone\.iso \(No such file or directory\)"):
        hash_file(tmp_path / "gone.iso")


# -- sum files: checked by the real coreutils ------------------------------------------------------------

def _check(tool: str, sum_file, cwd):
    return subprocess.run([tool, "-c", "--strict", sum_file.name], cwd=cwd, capture_output=True, text=True)


@pytest.mark.skipif(not (shutil.which("sha256sum") and shutil.which("md5sum")), reason="needs coreutils")
def test_sum_files_with_comments_pass_sha256sum_and_md5sum_and_fail_after_a_byte_flip(tmp_path):
    image = tmp_path / "disc 1.iso"            # a space in the name, as archivists' names often have
    data = bytearray(random.Random(5).randbytes(3 * 2048 + 17))
    image.write_bytes(data)
    sha_file, md5_file = write_sum_files(image, hash_file(image), comment_lines=(
        "acquire 0.1.0 image of /dev/sr0", "case C-1\nevidence E-7"))
    assert (sha_file.name, md5_file.name) == ("disc 1.iso.sha256", "disc 1.iso.md5")
    assert sha_file.read_text().splitlines()[:3] == [
        "# acquire 0.1.0 image of /dev/sr0", "# case C-1", "# evidence E-7"]
    for tool, sum_file in (("sha256sum", sha_file), ("md5sum", md5_file)):
        result = _check(tool, sum_file, tmp_path)
        assert (result.returncode, result.stdout, result.stderr) == (0, "disc 1.iso: OK\n", "")

    data[4000] ^= 0x01
    image.write_bytes(data)
    for tool, sum_file in (("sha256sum", sha_file), ("md5sum", md5_file)):
        result = _check(tool, sum_file, tmp_path)
        assert result.returncode == 1 and "disc 1.iso: FAILED" in result.stdout


@pytest.mark.skipif(not shutil.which("sha256sum"), reason="needs coreutils")
def test_a_backslash_in_the_image_name_is_escaped_the_coreutils_way(tmp_path):
    image = tmp_path / "a\\b.iso"
    image.write_bytes(b"data")
    sha_file, _ = write_sum_files(image, hash_file(image))
    assert sha_file.read_text().startswith("\\")
    assert _check("sha256sum", sha_file, tmp_path).returncode == 0


def test_write_sum_files_replaces_old_files_and_leaves_no_temporaries(tmp_path):
    image = tmp_path / "disc.iso"
    image.write_bytes(b"one")
    write_sum_files(image, hash_file(image))
    image.write_bytes(b"two")
    sha_file, md5_file = write_sum_files(image, hash_file(image))
    assert sha_file.read_text() == f"{hashlib.sha256(b'two').hexdigest()}  disc.iso\n"
    assert md5_file.read_text() == f"{hashlib.md5(b'two').hexdigest()}  disc.iso\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc.iso", "disc.iso.md5", "disc.iso.sha256"]


# -- compare_windows ---------------------------------------------------------------------------------------

def test_compare_windows_finds_the_window_of_a_flipped_byte():
    data = bytearray(random.Random(9).randbytes(10 * SMALL_WINDOW + 5))
    before = stream(bytes(data), window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW).windows
    data[7 * SMALL_WINDOW + 123] ^= 0x80
    after = stream(bytes(data), window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW).windows
    changed = compare_windows(before, after)
    assert [(w.index, w.offset, w.length) for w in changed] == [(7, 7 * SMALL_WINDOW, SMALL_WINDOW)]


def test_compare_windows_of_identical_streams_is_empty_and_extra_windows_count_as_changed():
    data = random.Random(2).randbytes(3 * SMALL_WINDOW)
    windows = stream(data, window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW).windows
    assert compare_windows(windows, windows) == []
    assert compare_windows(windows[:2], windows) == [windows[2]]


def test_crc32_is_zlibs_in_8_lowercase_hex_digits():
    # the check value of CRC-32/ISO-HDLC (the catalogue of parametrised CRC algorithms): "123456789" -> CBF43926
    assert stream(b"123456789").crc32 == "cbf43926"


def test_sfv_file_names_the_image_with_its_crc32_in_uppercase_after_semicolon_comments(tmp_path):
    image = tmp_path / "disc 1.iso"
    image.write_bytes(b"123456789")
    sfv = write_sfv(image, hash_file(image), comment_lines=("acquire image", "chain head abc"))
    assert sfv.name == "disc 1.iso.sfv"
    assert sfv.read_text() == "; acquire image\n; chain head abc\ndisc 1.iso CBF43926\n"


# -- the windows' strong digest: BLAKE3 now, SHA-256 in older records ---------------------------------------

def test_new_windows_carry_blake3_of_the_window_and_no_sha256():
    data = random.Random(5).randbytes(WINDOW_BYTES + 77)
    got = stream(data)
    assert got.window_hash == "blake3"
    first, last = got.windows
    # BLAKE3's published test vector: the 1-byte input 0x00 (BLAKE3 repository, test_vectors.json, input_len 1)
    assert blake3.blake3(b"\x00").hexdigest().startswith("2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213")
    assert (first.sha256, first.blake3) == (None, blake3.blake3(data[:WINDOW_BYTES]).hexdigest())
    assert last.strong == ("blake3", blake3.blake3(data[WINDOW_BYTES:]).hexdigest())


def test_sha256_windows_are_still_computed_for_a_record_that_holds_them():
    data = random.Random(6).randbytes(2 * SMALL_WINDOW + 1)
    got = stream(data, window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW, window_hash="sha256")
    assert got.window_hash == "sha256"
    assert [w.strong for w in got.windows] == [
        ("sha256", hashlib.sha256(data[o:o + SMALL_WINDOW]).hexdigest()) for o in range(0, len(data), SMALL_WINDOW)]
    assert all(w.blake3 is None for w in got.windows)


def test_compare_windows_across_window_hashes_falls_back_to_xxh128():
    data = bytearray(random.Random(8).randbytes(4 * SMALL_WINDOW))
    old = stream(bytes(data), window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW, window_hash="sha256").windows
    assert compare_windows(old, stream(bytes(data), window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW).windows) == []
    data[2 * SMALL_WINDOW] ^= 1
    new = stream(bytes(data), window_bytes=SMALL_WINDOW, chunk_bytes=SMALL_WINDOW).windows
    assert [w.index for w in compare_windows(old, new)] == [2]
