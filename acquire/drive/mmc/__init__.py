"""What the bytes are: one CDB builder and one response parser per MMC command we send.

A package by command family; every name is re-exported here, so `from acquire.drive import mmc;
mmc.read_10(...)` is the way in:

    opcodes.py    the operation codes and their names (the real side's one table), USER_DATA_BYTES
    unit.py       TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW, GET EVENT STATUS
    identify.py   INQUIRY, VPD 80h
    disc.py       READ CAPACITY(10), READ TOC, READ DISC INFORMATION, READ TRACK INFORMATION
    read.py       READ(10), READ(12), READ CD
    config.py     GET CONFIGURATION: profiles and features
    mode.py       MODE SENSE(10), MODE SELECT(10), pages 01h and 2Ah
    speed.py      SET CD SPEED, SET STREAMING, GET PERFORMANCE
    structure.py  READ DISC STRUCTURE (DVD, BD)

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields. Parsers take whatever
the drive returned (possibly cut short by the allocation length, possibly zero-padded past the
structure's own length) and raise only MalformedResponse.
"""
from __future__ import annotations

from .opcodes import (  # noqa: F401
    TEST_UNIT_READY, REQUEST_SENSE, INQUIRY, START_STOP_UNIT, PREVENT_ALLOW_MEDIUM_REMOVAL,
    READ_CAPACITY_10, READ_10, READ_SUB_CHANNEL, READ_TOC, GET_CONFIGURATION, GET_EVENT_STATUS_NOTIFICATION,
    READ_DISC_INFORMATION, READ_TRACK_INFORMATION, MODE_SELECT_10, MODE_SENSE_10, READ_12,
    GET_PERFORMANCE, READ_DISC_STRUCTURE, SET_STREAMING, SET_CD_SPEED, READ_CD, OPCODE_NAMES,
    USER_DATA_BYTES, SECTOR_BYTES, MAX_LBA, opcode_name,
)
from .unit import (  # noqa: F401
    test_unit_ready, request_sense, start_stop_unit, prevent_allow_medium_removal,
    MEDIA_CLASS_REQUEST, MEDIA_CLASS, MediaEvent, get_event_status_notification, parse_media_event,
)
from .identify import (  # noqa: F401
    Inquiry, inquiry, parse_inquiry, parse_unit_serial_number,
)
from .disc import (  # noqa: F401
    Capacity, read_capacity_10, parse_read_capacity_10, TOC_FORMAT_TOC, TOC_FORMAT_SESSION,
    TOC_FORMAT_FULL, LEADOUT_TRACK, read_toc, TocEntry, Toc, parse_toc, SessionInfo,
    parse_session_info, msf_to_lba, FullTocEntry, FullToc, FullTocSession, parse_full_toc, DiscInformation,
    disc_information_lba, POINT_FIRST_TRACK, POINT_LAST_TRACK, POINT_LEADOUT, POINT_NEXT_SESSION,
    read_disc_information, parse_disc_information, TrackInformation, read_track_information,
    parse_track_information,
)
from .read import (  # noqa: F401
    read_10, read_12, READ_CD_USER_DATA, READ_CD_RAW, READ_CD_RAW_C2, read_cd, read_cd_sector_size,
)
from .media import (  # noqa: F401
    TOC_FORMAT_PMA, TOC_FORMAT_ATIP, TOC_FORMAT_CD_TEXT, DISC_STRUCTURE_BCA, DISC_STRUCTURE_DMI, BD_MEDIA,
    BD_DISC_INFORMATION, Atip, parse_atip, parse_pma, CdTextPack, CdText, parse_cd_text, parse_bca, parse_dmi,
    BdDiscInformation, parse_bd_disc_information, SUB_CHANNEL_MCN, SUB_CHANNEL_ISRC, read_sub_channel,
    parse_mcn, parse_isrc,
)
from .config import (  # noqa: F401
    RT_ALL, RT_CURRENT, RT_ONE, FEATURE_NAMES,
    feature_name, Feature, ProfileEntry, Configuration, get_configuration, parse_configuration,
)
from ..profiles import profile_name  # noqa: F401  (the one profile table: drive/profiles.py)
from .mode import (  # noqa: F401
    PAGE_ERROR_RECOVERY, PAGE_CAPABILITIES, MODE_HEADER_10_BYTES, ModePage, mode_sense_10,
    parse_mode_sense_10, ErrorRecoveryPage, CapabilitiesPage, mode_select_10,
    mode_select_10_parameters,
)
from .speed import (  # noqa: F401
    MAX_SPEED_KBPS, set_cd_speed, set_streaming, performance_descriptor, Performance,
    get_performance, parse_performance,
)
from .structure import (  # noqa: F401
    DISC_STRUCTURE_PHYSICAL, DISC_STRUCTURE_COPYRIGHT, DISC_STRUCTURE_MANUFACTURING,
    DISC_STRUCTURE_LIST, read_disc_structure, DvdPhysicalFormat, parse_dvd_physical_format,
    Copyright, parse_copyright,
)

__all__ = [
    "TEST_UNIT_READY", "REQUEST_SENSE", "INQUIRY", "START_STOP_UNIT",
    "PREVENT_ALLOW_MEDIUM_REMOVAL", "READ_CAPACITY_10", "READ_10", "READ_TOC", "GET_CONFIGURATION",
    "GET_EVENT_STATUS_NOTIFICATION", "READ_DISC_INFORMATION", "READ_TRACK_INFORMATION",
    "MODE_SELECT_10", "MODE_SENSE_10", "READ_12", "GET_PERFORMANCE", "READ_DISC_STRUCTURE",
    "SET_STREAMING", "SET_CD_SPEED", "READ_CD", "OPCODE_NAMES", "USER_DATA_BYTES", "SECTOR_BYTES",
    "MAX_LBA", "opcode_name", "test_unit_ready", "request_sense", "start_stop_unit",
    "prevent_allow_medium_removal", "MEDIA_CLASS_REQUEST", "MEDIA_CLASS", "MediaEvent",
    "get_event_status_notification", "parse_media_event", "Inquiry", "inquiry", "parse_inquiry",
    "parse_unit_serial_number", "Capacity", "read_capacity_10", "parse_read_capacity_10",
    "TOC_FORMAT_TOC", "TOC_FORMAT_SESSION", "TOC_FORMAT_FULL", "LEADOUT_TRACK", "read_toc",
    "TocEntry", "Toc", "parse_toc", "SessionInfo", "parse_session_info", "msf_to_lba",
    "FullTocEntry", "FullToc", "FullTocSession", "parse_full_toc", "disc_information_lba",
    "POINT_FIRST_TRACK", "POINT_LAST_TRACK", "POINT_LEADOUT", "POINT_NEXT_SESSION", "DiscInformation", "read_disc_information",
    "parse_disc_information", "TrackInformation", "read_track_information",
    "parse_track_information", "read_10", "read_12", "READ_CD_USER_DATA", "READ_CD_RAW",
    "READ_CD_RAW_C2", "read_cd", "read_cd_sector_size", "RT_ALL", "RT_CURRENT", "RT_ONE",
    "FEATURE_NAMES", "profile_name", "feature_name", "Feature",
    "ProfileEntry", "Configuration", "get_configuration", "parse_configuration",
    "PAGE_ERROR_RECOVERY", "PAGE_CAPABILITIES", "MODE_HEADER_10_BYTES", "ModePage", "mode_sense_10",
    "parse_mode_sense_10", "ErrorRecoveryPage", "CapabilitiesPage", "mode_select_10",
    "mode_select_10_parameters", "MAX_SPEED_KBPS", "set_cd_speed", "set_streaming",
    "performance_descriptor", "Performance", "get_performance", "parse_performance",
    "DISC_STRUCTURE_PHYSICAL", "DISC_STRUCTURE_COPYRIGHT", "DISC_STRUCTURE_MANUFACTURING",
    "DISC_STRUCTURE_LIST", "read_disc_structure", "DvdPhysicalFormat", "parse_dvd_physical_format",
    "Copyright", "parse_copyright",
    "TOC_FORMAT_PMA", "TOC_FORMAT_ATIP", "TOC_FORMAT_CD_TEXT", "DISC_STRUCTURE_BCA", "DISC_STRUCTURE_DMI",
    "BD_MEDIA", "BD_DISC_INFORMATION", "Atip", "parse_atip", "parse_pma", "CdTextPack", "CdText",
    "parse_cd_text", "parse_bca", "parse_dmi", "BdDiscInformation", "parse_bd_disc_information",
    "SUB_CHANNEL_MCN", "SUB_CHANNEL_ISRC", "read_sub_channel", "parse_mcn", "parse_isrc", "READ_SUB_CHANNEL",
]
