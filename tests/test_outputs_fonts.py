"""Chart text is readable on any machine: the shipped CJK font covers every character drawn.

matplotlib warns "Glyph N missing from font(s)" and draws a box when no font of a text's
family list has a character; the suite turns warnings into errors, and this file also
checks each drawn text against the character maps of the fonts it resolves to, so a box
fails here whatever fonts the machine has (Debian's fonts-droid-fallback alone, or none).
"""

from __future__ import annotations

import warnings

import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure

from pv_survey.outputs import write_outputs
from pv_survey.outputs.charts import (BUNDLED_FONT, ChartText, bundled_font_path, cjk_font, collect_figures,
                                      missing_glyphs)
from test_outputs import make_district

# Characters of the bilingual labels that must come out as glyphs (hand-picked from the chart
# wording: CJK ideographs, full-width punctuation, digits, Latin).
BILINGUAL_SAMPLE = "累计装机容量与目标（含已建光伏）/ Cumulative capacity 0123456789 MWp 12月"


def test_bundled_font_is_the_chart_font():
    path = bundled_font_path()
    assert path is not None, "pylopdf-fonts-zh-cn is a dependency (pyproject.toml) and ships Noto Sans SC"
    assert cjk_font() == BUNDLED_FONT
    # registered with matplotlib: the family resolves to the shipped file, not a system font
    found = font_manager.findfont(font_manager.FontProperties(family=[BUNDLED_FONT]), fallback_to_default=False)
    assert found == str(path)
    assert ChartText(cjk_font()).families == [BUNDLED_FONT, "DejaVu Sans"]  # explicit list, no generic family


def test_every_bilingual_chart_has_every_glyph(tmp_path, clearsky_weather):
    from pv_survey.plan import plan_hourly

    d = make_district()
    hourly = plan_hourly(d["plan"], d["roofs"], clearsky_weather, energy_params={})
    with warnings.catch_warnings(record=True) as caught, collect_figures() as figs:
        warnings.simplefilter("always")
        write_outputs(tmp_path / "cjk", **d, chart_font=True, hourly=hourly)
    glyph_warnings = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert glyph_warnings == []
    assert len(figs) == 5  # cumulative, category, yield, monthly, typical day per month (hourly)
    drawn = "".join(t.get_text() for f in figs for t in f.findobj(lambda a: hasattr(a, "get_text")))
    assert any("\u4e00" <= c <= "\u9fff" for c in drawn), "the charts are bilingual (CJK text drawn)"
    for fig in figs:
        assert missing_glyphs(fig) == []


def test_missing_glyphs_sees_a_box():
    # independent check that the checker can fail: DejaVu Sans has no CJK ideographs
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_title("光伏 PV", family=["DejaVu Sans"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib's own "Glyph missing" warning, expected here
        miss = missing_glyphs(fig)
    assert {c for c, _ in miss} == {"光", "伏"}


@pytest.mark.parametrize("chars", [BILINGUAL_SAMPLE])
def test_shipped_font_covers_the_chart_wording(chars):
    fig = Figure()
    fig.text(0.1, 0.5, chars, family=ChartText(cjk_font()).families)
    assert missing_glyphs(fig) == []
