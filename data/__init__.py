"""Embedded data of pv-survey (package data; see pv_survey/data_files.py and README.md here)."""
