"""Cutting tenfold releases from CHANGELOG.md: `python -m release --help`."""
