"""A CD-Extra's data session analysed as its own volume, end to end on the simulated drive: the
session-2 ISO 9660 made by xorriso -C 0,START (absolute extents, its volume space counted from
START, as genisoimage/xorriso write a later session), its file list checked against isoinfo -l at
the session's start, and a damaged sector named on the file it hit. Previously the files were found
but the volume was said to end at LBA 193 ("11,700 after the volume's end")."""
from __future__ import annotations

import re
import sqlite3
import subprocess

from conftest import run_acquire

START = 300 + 11_400


def _disc(tmp, damage=""):
    tree = tmp / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "track.txt").write_bytes(b"liner notes\n" * 3000)
    (tree / "sub" / "b.txt").write_bytes(b"bonus\n" * 700)
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-C", f"0,{START}", "-o", str(tmp / "d.iso"),
                    str(tree)], check=True, capture_output=True)
    (tmp / "a.raw").write_bytes(bytes(2352) * 300)
    (tmp / "extra.toml").write_text(
        '[drive]\nserial = "SIM-X"\n[disc]\nprofile = "cd-rom"\n'
        '[[track]]\nnumber = 1\nsession = 1\nstart = 0\nmode = "audio"\nimage = "a.raw"\n'
        f'[[track]]\nnumber = 2\nsession = 2\nstart = {START}\nimage = "d.iso"\n' + damage)
    return tmp / "extra.toml"


def _isoinfo_files(image):
    """isoinfo -l -R -T START: path -> (size, extent LBA), directories left out."""
    out = subprocess.run(["isoinfo", "-l", "-R", "-T", str(START), "-i", str(image)], check=True,
                         capture_output=True, text=True).stdout
    files, where = {}, "/"
    for line in out.splitlines():
        if line.startswith("Directory listing of "):
            where = line[len("Directory listing of "):]
        m = re.match(r"^-\S+\s+\d+\s+\d+\s+\d+\s+(\d+)\s+.*\[\s*(\d+)\s+\d+\]\s+(.+?)\s*$", line)
        if m:
            files[where + m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return files


def test_the_data_session_of_a_cd_extra_is_its_own_volume_with_the_files_isoinfo_lists(tmp_path):
    run_acquire("image", f"sim:{_disc(tmp_path)}", tmp_path / "out.iso", "--no-validate", check_code=0)
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        details = db.execute("select details_json from filesystems where kind = 'iso9660'").fetchone()[0]
        rows = db.execute("select path, size, extents_json from files where is_dir = 0").fetchall()
    assert '"volume_start":' in details.replace(" ", "") and "capacity_mismatch" not in details, details
    ours = {path: (size, int(extents.strip("[]").split(",")[0])) for path, size, extents in rows}
    oracle = _isoinfo_files(tmp_path / "out.iso")
    assert ours == oracle and len(oracle) == 2 and all(lba > START for _, lba in oracle.values()), (ours, oracle)


def test_a_damaged_sector_in_the_data_session_is_named_on_the_file_it_hit(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    lba = _isoinfo_files_for(clean)["/sub/b.txt"][1]
    hurt = tmp_path / "hurt"
    hurt.mkdir()
    profile = _disc(hurt, f'[[damage]]\nlbas = "{lba}"\nkind = "unreadable"\n')
    run_acquire("image", f"sim:{profile}", hurt / "out.iso", "--no-validate")
    with sqlite3.connect(hurt / "out.iso.custody.sqlite") as db:
        verdicts = dict(db.execute("select path, verdict from files where is_dir = 0"))
    assert verdicts["/track.txt"] == "intact" and verdicts["/sub/b.txt"] != "intact", verdicts


def _isoinfo_files_for(tmp):
    run_acquire("image", f"sim:{_disc(tmp)}", tmp / "out.iso", "--no-validate", check_code=0)
    return _isoinfo_files(tmp / "out.iso")


def test_a_mixed_mode_disc_has_its_data_track_one_analysed_with_the_files_isoinfo_lists(tmp_path):
    from audio_discs import mixed_mode
    disc = mixed_mode(tmp_path, audio_sectors=(300, 300), drive="read_offset = 6\noverread = true")
    run_acquire("image", f"sim:{disc['profile']}", tmp_path / "out.iso", "--no-validate", check_code=0)
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        rows = db.execute("select path, size, extents_json from files where is_dir = 0").fetchall()
    ours = {path: (size, int(extents.strip("[]").split(",")[0])) for path, size, extents in rows}
    out = subprocess.run(["isoinfo", "-l", "-R", "-i", str(tmp_path / "out.iso")], check=True,
                         capture_output=True, text=True).stdout
    oracle = {}
    for line in out.splitlines():
        m = re.match(r"^-\S+\s+\d+\s+\d+\s+\d+\s+(\d+)\s+.*\[\s*(\d+)\s+\d+\]\s+(.+?)\s*$", line)
        if m:
            oracle["/" + m.group(3).split(";")[0]] = (int(m.group(1)), int(m.group(2)))   # ECMA-119 7.5: ";1" is the version
    assert ours == oracle and "/README.TXT" in oracle, (ours, oracle)
