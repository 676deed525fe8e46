"""A sector the drive refuses as copy-protected (05/6F/xx: CSS, no authenticated key) is recorded
and never read again: retrying cannot help, unlike a medium error (03/11/00), which is retried."""
import json
import sqlite3

import pytest

from conftest import make_disc, run_acquire, write_profile

PROTECTED = (300, 301)           # refused with 05/6F/03 (MMC-6: "media region code mismatch" family)
SCRATCHED = (900,)               # 03/11/00: a medium error


def reads_of(trace, lbas):
    """How many READs touched each LBA in `lbas`, from the simulated drive's trace."""
    counts = dict.fromkeys(lbas, 0)
    for line in trace.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] in ("ok", "err"):
            lba, count = int(fields[0]), int(fields[1])
            for x in lbas:
                counts[x] += lba <= x < lba + count
    return counts


@pytest.mark.parametrize("strategy", ["adaptive", "linear"])
def test_a_copy_protected_sector_is_logged_once_alone_and_never_retried(tmp_path, strategy):
    make_disc(tmp_path / "disc.iso", 2000)
    trace = tmp_path / "reads.log"
    profile = write_profile(tmp_path / "p.toml", "disc.iso", drive={"serial": "SIM-P", "trace": str(trace)},
                            damage=[{"lbas": "300-301", "kind": "unreadable", "sense": "05/6F/03"},
                                    {"lbas": "900", "kind": "unreadable"}])
    done = run_acquire("image", f"sim:{profile}", tmp_path / "out.iso", "--json", "--strategy", strategy,
                       "--retries", "3", check_code=3)
    assert json.loads(done.stdout)["unreadable_ranges"] == [[300, 301], [900, 900]]
    db = sqlite3.connect(tmp_path / "out.iso.custody.sqlite")
    alone = db.execute("SELECT lba, count(*) FROM damage WHERE count = 1 AND sense = '05/6F/03' GROUP BY lba").fetchall()
    assert alone == [(300, 1), (301, 1)]                  # each read alone exactly once, then left
    reasons = [r for (r,) in db.execute("SELECT reason FROM damage WHERE count = 1 AND sense = '05/6F/03'")]
    assert all("copy-protected" in r and "not read again" in r for r in reasons)
    retried = db.execute("SELECT count(*) FROM damage WHERE lba = 900 AND count = 1").fetchone()[0]
    assert retried > 3                                    # the medium error got its retries
    touched = reads_of(trace, PROTECTED + SCRATCHED)
    assert touched[300] < touched[900] and touched[301] < touched[900]
