"""The UDF 2.50 metadata-partition fixture (fixtures/make_udf_images.to_metadata_partition: no Debian
tool writes one) read by an independent reader, the Linux kernel's udf driver: a QEMU guest loop-mounts
it and hashes every file; our analysis must list the same files with the same bytes. One boot, ~40 s
under TCG."""
from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import make_udf_images as mk  # noqa: E402

from acquire.fs.analyze import analyze_image  # noqa: E402

pytestmark = pytest.mark.e2e
SECTOR = 2048


def test_the_kernel_reads_the_metadata_partition_fixture_as_we_do():
    if not (shutil.which("mkudffs") and shutil.which("udfclient")):
        pytest.skip("needs udftools and udfclient")
    try:
        harness.preflight()
    except harness.Unavailable as exc:
        pytest.skip(str(exc))
    job = harness.make_job_dir()
    physical = mk.mkudffs(job / "hd.udf", "hd", "2.01")
    content = mk.put_tree(physical, job / "work")
    mk.to_metadata_partition(physical, job / "meta.udf")
    physical.unlink()
    script = ("mkdir -p /tmp/m && mount -t udf -o ro,loop meta.udf /tmp/m && cd /tmp/m && "
              "find . -type f | sort | xargs sha256sum > $E2E_JOB/sums.txt")
    result = harness.run_guest(script, [], job=job, timeout_s=300)
    assert result.exit_code == 0, result.console[-3000:]
    kernel = {line.split()[1][1:]: line.split()[0] for line in result.text("sums.txt").splitlines()}
    analysis = analyze_image(job / "meta.udf", None)
    data = (job / "meta.udf").read_bytes()
    files = {f.path: f for f in analysis.files if not f.is_dir}
    assert set(kernel) == set(files) == set(content)
    for path, f in files.items():           # a file embedded in its entry has no extent to read here
        if f.extents:
            body = b"".join(data[a * SECTOR:(a + n) * SECTOR] for a, n in f.extents)[:f.size]
            assert hashlib.sha256(body).hexdigest() == kernel[path], path
        assert kernel[path] == hashlib.sha256(content[path]).hexdigest() and f.size == len(content[path])
