"""Copies of an acquisition for others: BagIt bags, encrypted transport copies (docs/bagit.md)."""
