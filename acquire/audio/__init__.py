"""Audio and mixed-mode CDs: CD-DA samples read raw, their offset, their rescue, their checksums
and disc IDs (layer 2), and the files the preservation community keeps them in (output.py, layer 3).
"""
