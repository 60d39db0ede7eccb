"""Data files of pv-survey with their sources: module presets, lookup tables derived from pvlib."""
