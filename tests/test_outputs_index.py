"""README.txt, the bilingual index in every output folder."""

from __future__ import annotations

import pyogrio

from pv_survey.outputs import write_outputs
from test_outputs import make_district


def test_readme_lists_every_file_layer_and_sheet(tmp_path):
    paths = write_outputs(tmp_path / "o", **make_district(), chart_font=None)
    raw = paths["README.txt"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # UTF-8 BOM, CRLF: Notepad shows it right
    text = raw.decode("utf-8-sig")
    listed = {line for line in text.splitlines() if line and not line.startswith(" ")}
    for name in paths:
        assert name in listed, name  # each file on its own line ...
        block = text.split(name + "\r\n", 1)[1].split("\r\n\r\n", 1)[0]
        assert any("\u4e00" <= c <= "\u9fff" for c in block) and any(c.isascii() and c.isalpha() for c in block), \
            name  # ... described in Chinese and English
    for layer, _geom in pyogrio.list_layers(paths["survey.gpkg"]):
        if layer != "layer_styles":
            assert layer in text
    assert "汇总 Summary, 2025, 2030, 储备 Reserve" in text  # the workbook's sheets, in order
    assert "test-district" in text.splitlines()[0]
