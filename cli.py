#!/usr/bin/env python3
"""Thin entry point: ``python cli.py --help`` is the same click group as the ``pv-survey`` command."""

from pv_survey.cli import main

if __name__ == "__main__":
    main()
