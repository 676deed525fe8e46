"""Disc structures: each parser on a vector laid out from its table in MMC-6 (docs/reference/mmc.md
"Disc structures"; no captured drive answer was found for these, so each is assembled from the
table with the values named beside it), CD-TEXT's CRC against the standard library's CRC-CCITT,
the simulated drive's answers read through acquire's parsers, and the record and the resume check
that use them."""
from __future__ import annotations

import binascii
import json
import sqlite3

from conftest import run_acquire
from acquire.drive import mmc
from acquire.drive.device import open_drive
from acquire.drive.structures import disc_geometry, identity_hashes, read_structures

h = bytes.fromhex

# ATIP (MMC-6 table "ATIP descriptor"): data length 26; byte 4 D2h: ITWP 5, reference speed 2;
# byte 5 00h (restricted use); byte 6 80h: CD-R, sub-type 0, no A1-A3; lead-in start 97:17:06 and
# last possible lead-out 79:59:74 (the C0h and B0h values of the readom capture of docs/reference/mmc.md "READ TOC/PMA/ATIP")
ATIP_CDR = h("00 1a 00 00 d2 00 80 00 61 11 06 00 4f 3b 4a 00") + bytes(12)
# a CD-RW's: byte 6 C4h: disc type 1 (CD-RW), sub-type 0, A1 valid
ATIP_CDRW = h("00 1a 00 00 d2 00 c4 00 61 11 06 00 4f 3b 4a 00") + bytes(12)
# CD-TEXT (Red Book / MMC-6 "CD-TEXT pack"): two title packs of the disc (track 0), "ACQUIRE TES"
# + "T" then NUL; the CRC fields are the inverted CRC-CCITT of bytes 0-15, computed below
_PACKS = [h("80 00 00 00") + b"ACQUIRE TEST", h("80 00 01 0c") + b"\x00" * 12]
CD_TEXT = h("00 26 00 00") + b"".join(p + (binascii.crc_hqx(p, 0) ^ 0xFFFF).to_bytes(2, "big") for p in _PACKS)
# BCA (format 03h): header, then 12 bytes of BCA data
BCA = h("00 0e 00 00") + h("01 02 03 04 05 06 07 08 09 0a 0b 0c")
# BD disc information (media type 1, format 00h): header, one DI unit: "DI", unit format 1, 1 unit,
# disc type "BDR", size/class/version 01h, 1 layer (bits 7-4 of byte 12); byte 13 channel length code
# 2 (69.0 nm, a 27 GB layer: the field as Aaru's DI.cs and redumper decode it; the BD books are not public)
BD_DI = h("00 72 00 00") + (b"DI" + h("01 01 00 00 00 00") + b"BDR" + h("01 10 02")).ljust(112, b"\x00")


# READ SUB-CHANNEL (MMC-6 "Media Catalogue Number" and "ISRC" formats): header (reserved, audio
# status 15h, data length 20), then format 02h, MCVal set, the 13 digits "0724383472326", zero, AFRAME
MCN = h("00 15 00 14 02 00 00 00 80") + b"0724383472326" + h("00 00")
# format 03h, ADR 1 / CONTROL 0 (audio), track 2, TCVal set, "GBAYE0601498", zero, AFRAME, reserved
ISRC = h("00 15 00 14 03 10 02 00 80") + b"GBAYE0601498" + h("00 00 00")
NO_MCN = h("00 15 00 14 02 00 00 00 00") + bytes(15)


def test_mcn_and_isrc_come_from_read_sub_channel_when_their_valid_bit_is_set():
    assert mmc.read_sub_channel(mmc.SUB_CHANNEL_ISRC, track=2) == h("42 00 40 03 00 00 02 00 18 00")
    assert (mmc.parse_mcn(MCN), mmc.parse_isrc(ISRC), mmc.parse_mcn(NO_MCN)) == ("0724383472326", "GBAYE0601498", None)


def test_atip_gives_writing_power_disc_type_lead_in_and_last_lead_out():
    atip = mmc.parse_atip(ATIP_CDR)
    assert (atip.writing_power, atip.reference_speed, atip.rewritable, atip.unrestricted_use) == (5, 2, False, False)
    assert (atip.lead_in_lba, atip.lead_out_lba) == (-12_369, 359_849)      # 97:17:06 lies before 00:02:00
    rw = mmc.parse_atip(ATIP_CDRW)
    assert (rw.rewritable, rw.a1_valid, rw.a2_valid) == (True, True, False)


def test_cd_text_packs_check_their_crc_and_give_the_disc_title():
    text = mmc.parse_cd_text(CD_TEXT)
    assert [p.crc_ok for p in text.packs] == [True, True]
    assert text.strings(0x80) == {0: "ACQUIRE TEST"}
    spoiled = bytearray(CD_TEXT)
    spoiled[10] ^= 0x01
    assert [p.crc_ok for p in mmc.parse_cd_text(bytes(spoiled)).packs] == [False, True]


def test_our_crc_is_the_standard_crc_ccitt():
    for data in (b"", b"123456789", bytes(range(16))):
        assert mmc.media.crc16(data) == binascii.crc_hqx(data, 0)


def test_bca_dmi_and_bd_disc_information():
    assert mmc.parse_bca(BCA) == bytes(range(1, 13))
    assert mmc.parse_dmi(h("08 02 00 00") + b"\x5a" * 2048) == b"\x5a" * 2048
    di = mmc.parse_bd_disc_information(BD_DI)
    assert (di.unit_format, di.units, di.disc_type, di.layers, di.channel_length) == (1, 1, "BDR", 1, 2)
    assert abs(di.velocity_m_s - 4.554) < 0.001                # 66 Mbit/s x 69.0 nm
    assert abs(mmc.parse_bd_disc_information(BD_DI[:17] + b"\x01" + BD_DI[18:]).velocity_m_s - 4.917) < 0.001
    assert mmc.parse_bd_disc_information(BD_DI[:17] + b"\x00" + BD_DI[18:]).velocity_m_s is None


def _profile(tmp_path, name: str, disc: str, tracks: str = "") -> str:
    path = tmp_path / name
    path.write_text('[drive]\nserial = "SIM-S"\n[disc]\n' + disc + tracks)
    return f"sim:{path}"


def test_the_simulated_drive_answers_every_structure_of_its_family(tmp_path):
    cd = open_drive(_profile(tmp_path, "cd.toml", 'profile = "cd-rw"\ncd_text_title = "Holidays"\n',
                             "[[track]]\nnumber = 1\nstart = 0\nsectors = 300\nwrite = \"tao\"\n"))
    found = read_structures(cd, cd.medium())
    assert sorted(found) == ["atip", "cd_text", "pma"] and cd.fallbacks == []
    assert found["atip"].parsed["rewritable"] is True
    assert found["cd_text"].parsed["titles"] == {"0": "Holidays"}
    pressed = open_drive(_profile(tmp_path, "rom.toml", 'profile = "cd-rom"\nsectors = 300\n'))
    assert read_structures(pressed, pressed.medium()) == {}                # no ATIP, PMA, CD-TEXT, MCN
    audio = open_drive(_profile(tmp_path, "cdda.toml", 'profile = "cd-rom"\nmcn = "0724383472326"\n',
                                '[[track]]\nnumber = 1\nstart = 0\nsectors = 300\nmode = "audio"\n'
                                'isrc = "GBAYE0601498"\n'))
    found = read_structures(audio, audio.medium())
    assert (found["mcn"].parsed, found["isrc"].parsed) == ({"mcn": "0724383472326"}, {"isrc": {"1": "GBAYE0601498"}})
    dvd = open_drive(_profile(tmp_path, "dvd.toml", 'profile = "dvd+r"\nsectors = 3000\nbca = "' + "5a" * 64 + '"\n'))
    found = read_structures(dvd, dvd.medium())
    assert sorted(found) == ["dvd_bca", "dvd_copyright", "dvd_dmi", "dvd_physical"]
    assert found["dvd_bca"].raw[4:] == b"\x5a" * 64
    bd = open_drive(_profile(tmp_path, "bd.toml", 'profile = "bd-re"\nsectors = 3000\n'))
    assert read_structures(bd, bd.medium())["bd_disc_information"].parsed["disc_type"] == "BDW"
    assert set(identity_hashes(found)) == {"dvd_bca", "dvd_copyright", "dvd_dmi", "dvd_physical"}


def test_a_dvds_density_codes_reach_the_spiral_the_engine_starts_from(tmp_path, monkeypatch):
    """The PFI of a dual-layer-density DVD (linear density 1) gives the engine 3.83 m/s, not the
    nominal 3.49; a CD, whose structures name no geometry, leaves the hint empty."""
    from acquire import api
    from acquire.imaging import ImageOptions, hygiene_run, run
    from acquire.rescue.geometry import Geometry

    profile = _profile(tmp_path, "dl.toml", 'profile = "dvd-rom"\nsectors = 4096\nlinear_density = 1\n',
                       '[[damage]]\nlbas = "1000-1015"\nkind = "unreadable"\n')
    drive = open_drive(profile)
    _, pitch, velocity = disc_geometry(read_structures(drive, drive.medium()))
    assert pitch == 0.74e-6 and abs(velocity - 3.832) < 0.001
    seen = {}
    real = run.make_engine

    def spy(strategy, reader, smap, sink, settings):
        engine = real(strategy, reader, smap, sink, settings)
        seen.update(hint=settings.spiral_hint, b=engine.model.geom.b / Geometry.nominal("dvd").b)
        return engine
    monkeypatch.setattr(run, "make_engine", spy)
    monkeypatch.setattr(hygiene_run, "make_engine", spy)
    outcome = api.acquire_image(profile, tmp_path / "dl.iso", ImageOptions())
    assert seen["hint"] == (None, 0.74e-6, velocity) and abs(seen["b"] - 3.832 / 3.49) < 0.001   # v/p over nominal
    assert outcome.unreadable_ranges == [(1000, 1015)]
    cd = open_drive(_profile(tmp_path, "cd.toml", 'profile = "cd-rom"\nsectors = 300\n'))
    assert disc_geometry(read_structures(cd, cd.medium())) == (None, None, None)
    bd = open_drive(_profile(tmp_path, "bd.toml", 'profile = "bd-r"\nsectors = 3000\nchannel_length = 2\n'))
    _, pitch, velocity = disc_geometry(read_structures(bd, bd.medium()))
    assert pitch is None and abs(velocity - 4.554) < 0.001


def test_a_density_code_on_a_cd_or_out_of_range_is_refused(tmp_path):
    import pytest
    from acquire.errors import AcquireError
    for disc in ('profile = "cd-r"\nsectors = 300\ntrack_density = 1\n',
                 'profile = "dvd-rom"\nsectors = 300\nlinear_density = 16\n',
                 'profile = "dvd-rom"\nsectors = 300\nchannel_length = 2\n'):
        with pytest.raises(AcquireError, match="physical format code|disc information code"):
            open_drive(_profile(tmp_path, "bad.toml", disc))


def test_a_drive_that_answers_format_0_whatever_format_is_asked_gives_no_atip_pma_or_cd_text(tmp_path):
    """QEMU's ide-cd takes READ TOC's format from byte 9 (SFF-8020): formats 3, 4, 5 in byte 2 come
    back as the TOC itself, which must not be kept as an ATIP (docs/simulated-drive.md "Quirks")."""
    path = tmp_path / "ide.toml"
    path.write_text('[drive]\nemulate = "qemu-ide-cd"\n[disc]\nprofile = "cd-r"\ncd_text_title = "X"\n'
                    '[[track]]\nnumber = 1\nstart = 0\nsectors = 300\nwrite = "tao"\n')
    ide = open_drive(f"sim:{path}")
    assert read_structures(ide, ide.medium()) == {}


def test_structures_are_kept_raw_and_hashed_in_the_record_and_a_different_one_refuses_the_resume(tmp_path):
    tracks = "[[track]]\nnumber = 1\nstart = 0\nsectors = 3000\nwrite = \"tao\"\n"
    first = _profile(tmp_path, "a.toml", 'profile = "cd-r"\ncd_text_title = "Backups 2009"\n',
                     tracks + "[[event]]\nafter_commands = 60\nkind = \"disconnect\"\n")
    run_acquire("image", first, tmp_path / "out.iso", check_code=4)
    with sqlite3.connect(tmp_path / "out.iso.custody.sqlite") as db:
        rows = dict(db.execute("SELECT name, parsed_json FROM disc_responses WHERE name != 'layout'"))
        identity = json.loads(db.execute("SELECT identity FROM medium").fetchone()[0])
    assert set(rows) == {"atip", "pma", "cd_text"}
    assert json.loads(rows["cd_text"])["titles"] == {"0": "Backups 2009"}
    assert set(identity["structures"]) == {"atip", "cd_text"}
    other = _profile(tmp_path, "b.toml", 'profile = "cd-r"\ncd_text_title = "Backups 2010"\n', tracks)
    done = run_acquire("image", other, tmp_path / "out.iso", check_code=1)
    assert "differs in disc structure cd_text" in done.stderr
    same = _profile(tmp_path, "c.toml", 'profile = "cd-r"\ncd_text_title = "Backups 2009"\n', tracks)
    run_acquire("image", same, tmp_path / "out.iso", check_code=0)
