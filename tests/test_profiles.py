"""One profile table (drive/profiles.py) for every use: imaging, the adaptive model, the reports,
the simulated drive. Profile numbers from MMC-6 5.3.1 table 87, written here by hand."""
import json

import pytest

from acquire.drive import mmc
from acquire.drive.profiles import ECC_SECTORS, PROFILES, family_of, medium_family, profile_name
from conftest import run_acquire, write_profile

# every profile MMC-6 lists -> the family acquire must read it as (None: not an optical disc)
MMC6 = {
    0x0001: None, 0x0002: None, 0x0003: None, 0x0004: None, 0x0005: None,
    0x0008: "cd", 0x0009: "cd", 0x000A: "cd",
    0x0010: "dvd", 0x0011: "dvd", 0x0012: "dvd", 0x0013: "dvd", 0x0014: "dvd", 0x0015: "dvd",
    0x0016: "dvd", 0x0017: "dvd", 0x0018: "dvd", 0x001A: "dvd", 0x001B: "dvd",
    0x0020: "cd", 0x0021: "cd", 0x0022: "cd",
    0x002A: "dvd", 0x002B: "dvd",
    0x0040: "bd", 0x0041: "bd", 0x0042: "bd", 0x0043: "bd",
    0x0050: "dvd", 0x0051: "dvd", 0x0052: "dvd", 0x0053: "dvd", 0x0058: "dvd", 0x005A: "dvd",
    0xFFFF: None,
}
DUAL_LAYER = {0x0015, 0x0016, 0x0017, 0x002A, 0x002B, 0x0058, 0x005A}


def test_every_profile_code_has_the_family_mmc6_gives_it():
    wrong = [f"{code:04X}h: {family_of(code)!r}" for code in range(0x10000) if family_of(code) != MMC6.get(code)]
    unnamed = [f"{code:04X}h" for code in range(1, 0x10000)
               if (code in MMC6) == (profile_name(code) == f"profile {code:04X}h")]
    assert not wrong and not unnamed
    assert profile_name(0) == "no current profile"


def test_the_table_lists_exactly_the_mmc6_profiles_and_marks_the_dual_layer_ones():
    assert set(PROFILES) == set(MMC6)
    assert {c for c, p in PROFILES.items() if p.layers == 2} == DUAL_LAYER
    assert mmc.profile_name is profile_name                       # mmc re-exports the one table


def test_no_profile_is_guessed_from_the_capacity_and_says_so():
    assert medium_family(0x0016) == ("dvd", False)
    assert medium_family(0, 300_000) == ("cd", True)
    assert medium_family(0, 4_000_000) == ("dvd", True)
    assert medium_family(None, 12_000_000) == ("bd", True)
    assert ECC_SECTORS == {"cd": 1, "dvd": 16, "bd": 32}


@pytest.mark.parametrize("name, code", [("dvd-r-dl-jump", 0x0016), ("dvd-rw-dl", 0x0017), ("dvd+rw-dl", 0x002A)])
def test_a_dual_layer_dvd_is_imaged_with_16_sector_units_and_the_dvd_spiral_and_reported_as_dvd(
        tmp_path, monkeypatch, name, code):
    """0016h, 0017h and 002Ah were read as CDs (ECC unit 1, the CD spiral) and reported as DVDs."""
    from acquire import api
    from acquire.imaging import ImageOptions, hygiene_run, run

    seen = {}
    real = run.make_engine

    def spy(strategy, reader, smap, sink, settings):
        engine = real(strategy, reader, smap, sink, settings)
        seen.update(family=settings.family, ecc=settings.ecc_sectors, spiral=engine.model.geom.family)
        return engine
    monkeypatch.setattr(run, "make_engine", spy)
    monkeypatch.setattr(hygiene_run, "make_engine", spy)     # the rescue, wrapped in retry hygiene
    profile = write_profile(tmp_path / "dl.toml", sectors=4096, profile=name,
                            damage=[{"lbas": "1000-1015", "kind": "unreadable"}])
    outcome = api.acquire_image(f"sim:{profile}", tmp_path / "dl.iso", ImageOptions())
    assert seen == {"family": "dvd", "ecc": 16, "spiral": "dvd"}
    assert outcome.unreadable_ranges == [(1000, 1015)]
    report = json.loads(run_acquire("report", tmp_path / "dl.iso.custody.sqlite", check_code=0).stdout)
    assert (report["medium"]["profile"], report["medium"]["family"]) == (code, "DVD")
    info = json.loads(run_acquire("info", f"sim:{profile}", "--json", check_code=0).stdout)
    assert (info["medium"]["profile"], info["medium"]["family"]) == (code, "dvd")


def test_the_simulated_drive_takes_a_profile_by_number_and_refuses_one_that_is_no_optical_disc(tmp_path):
    ok = tmp_path / "hd.toml"
    ok.write_text('[disc]\nprofile = 0x0050\nsectors = 100\n')
    info = json.loads(run_acquire("info", f"sim:{ok}", "--json", check_code=0).stdout)
    assert (info["medium"]["profile"], info["medium"]["profile_name"], info["medium"]["family"]) == \
        (0x0050, "HD DVD-ROM", "dvd")
    bad = tmp_path / "hdd.toml"
    bad.write_text('[disc]\nprofile = 0x0001\nsectors = 100\n')
    done = run_acquire("info", f"sim:{bad}")
    assert done.returncode != 0 and "not an optical-disc profile" in done.stderr
