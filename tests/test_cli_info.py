"""`acquire info` and `acquire drives`: what the drive and the disc say, and one clear line when they can't."""
import json
import os

import pytest

from conftest import ROOT, make_disc, run_acquire, write_profile


def test_info_on_the_damaged_fixture_reports_what_its_profile_says(fixtures_made):
    done = run_acquire("info", "sim:fixtures/damaged.toml", "--json", cwd=ROOT, check_code=0)
    info = json.loads(done.stdout)
    assert info["drive"] == {"vendor": "ACQUIRE", "product": "SIM DAMAGED", "revision": "1.00", "serial": "SIM-0002"}
    m = info["medium"]
    assert (m["profile"], m["profile_name"], m["capacity"], m["capacity_bytes"]) == (0x0008, "CD-ROM", 4000, 4000 * 2048)
    assert [(t["track"], t["start_lba"]) for t in m["toc"]] == [(1, 0), (0xAA, 4000)]
    assert m["volume_label"] == "ACQUIRE_TEST"


@pytest.mark.parametrize("profile,code,name,sectors", [("dvd-generated.toml", 0x0010, "DVD-ROM", 2295104),
                                                       ("bd-generated.toml", 0x0040, "BD-ROM", 12219392)])
def test_info_on_generated_dvd_and_bd_profiles(profile, code, name, sectors):
    info = json.loads(run_acquire("info", f"sim:fixtures/{profile}", "--json", cwd=ROOT, check_code=0).stdout)
    assert (info["medium"]["profile"], info["medium"]["profile_name"], info["medium"]["capacity"]) == (code, name, sectors)
    assert info["medium"]["volume_label"] is None


def test_info_in_words_names_the_volume(fixtures_made):
    done = run_acquire("info", "sim:fixtures/clean.toml", cwd=ROOT, check_code=0)
    assert "capacity 4000 sectors, 8192000 bytes" in done.stdout
    assert "volume   ACQUIRE_TEST" in done.stdout


def test_an_unknown_device_is_one_line_and_exit_1():
    done = run_acquire("info", "/dev/sr97")
    assert (done.returncode, done.stderr) == (1, "acquire: no such device /dev/sr97; list drives with `acquire drives`\n")


def test_a_device_that_is_not_a_path_or_sim_is_a_usage_error():
    done = run_acquire("info", "sr0")
    assert done.returncode == 2 and done.stderr.startswith("acquire: unknown device 'sr0'")


def test_a_profile_with_a_toml_error_names_the_line(tmp_path):
    (tmp_path / "bad.toml").write_text('[disc]\nprofile = "cd-rom"\nimage = disc.iso\n')
    done = run_acquire("info", f"sim:{tmp_path / 'bad.toml'}")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "line 3" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_drive_is_one_line_and_exit_1(tmp_path):
    make_disc(tmp_path / "disc.iso", 100)
    profile = write_profile(tmp_path / "empty.toml", "disc.iso",
                            events=[{"after_commands": 0, "kind": "not-ready", "count": 1000}])
    done = run_acquire("info", f"sim:{profile}")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "not become ready" in done.stderr


def test_a_node_that_is_not_scsi_is_one_line_and_exit_1():
    done = run_acquire("info", "/dev/null")
    assert done.returncode == 1 and "is not a SCSI device" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a node no one may open")
def test_permission_denied_names_the_group(tmp_path):
    import subprocess
    import sys
    node = tmp_path / "sr5"
    node.write_bytes(b"")
    os.chmod(node, 0)
    os.chmod(tmp_path, 0o755)
    # import first: after setuid the interpreter's own files (under root's home) may be unreadable
    code = ("import os,sys,grp,pwd,errno; from acquire.cli import main; import acquire.info, acquire.drive.sg; "
            "os.setgid(65534); os.setuid(65534); "
            f"sys.argv=['acquire','info','{node}']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1 and "permission denied" in done.stderr and "group" in done.stderr


def test_drives_with_no_drive_is_a_friendly_answer():
    done = run_acquire("drives", "--json", check_code=0)
    assert isinstance(json.loads(done.stdout)["drives"], list)
