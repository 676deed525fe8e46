"""acquire: forensic raw acquisition of optical discs (CD, DVD, BD) over SCSI/MMC."""
__version__ = "0.1.0"
