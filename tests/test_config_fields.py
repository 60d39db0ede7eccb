"""Every field of every config section is read by the code (no documented setting without effect)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from pv_survey.config import Config

PKG = Path(__file__).resolve().parents[1] / "pv_survey"


def _fields():
    cfg = Config()
    for sec in dataclasses.fields(Config):
        for f in dataclasses.fields(type(getattr(cfg, sec.name))):
            yield sec.name, f.name


@pytest.fixture(scope="module")
def code() -> str:
    """Source of every module except config.py (where each field is only defined)."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(PKG.rglob("*.py")) if p.name != "config.py")


@pytest.mark.parametrize("section,name", list(_fields()))
def test_field_is_read(code, section, name):
    # read as an attribute (cfg.roofs.edge_setback_m) or named as a string (getattr(rc, "facade_capex_cny_per_w"))
    pattern = rf"\.{name}\b|[\"']{name}[\"']"
    assert re.search(pattern, code), f"[{section}] {name} is defined in config.py but never read"


def test_the_check_can_fail(code):
    # a name that no module reads is reported (the test above is not vacuous)
    assert not re.search(r"\.no_such_setting_m\b|[\"']no_such_setting_m[\"']", code)
