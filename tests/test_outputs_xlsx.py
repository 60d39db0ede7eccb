"""shortlists.xlsx read back with openpyxl: sheets, frozen bilingual headers, widths, number
formats, totals, coordinates (hand-made district of test_outputs.py)."""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from pv_survey.inputs.crs import gcj02_to_wgs84
from pv_survey.outputs import write_outputs
from test_outputs import ANCHOR_LAT_DEG, ANCHOR_LON_DEG, make_district


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("xlsx") / "run"
    paths = write_outputs(out, **make_district(), chart_font=None)
    return paths, openpyxl.load_workbook(paths["shortlists.xlsx"])


def _rows(ws):
    rows = list(ws.iter_rows(values_only=True))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def test_sheets_per_build_year_reserve_class_and_summary(book):
    _, wb = book
    # make_district: B001, B002 in 2025; B003, B004 in 2030; B005 reserve; one class per site
    assert wb.sheetnames == ["汇总 Summary", "2025", "2030", "储备 Reserve", "类 Government", "类 School",
                             "类 Hospital", "类 Industrial", "类 Commercial"]
    _, r25 = _rows(wb["2025"])
    assert [r["建筑编号 / Building ID"] for r in r25] == ["B001", "B002"]
    assert r25[0]["分期 / Phase"] == 2025  # a number, not text
    _, rres = _rows(wb["储备 Reserve"])
    assert [r["建筑编号 / Building ID"] for r in rres] == ["B005"]


def test_headers_frozen_widths_formats(book):
    _, wb = book
    for ws in wb.worksheets:
        head = [c.value for c in ws[1]]
        assert all(" / " in h for h in head if h), ws.title  # bilingual headers
        assert all(c.font.bold for c in ws[1] if c.value)
        assert ws.freeze_panes in ("A2", "D2")
    ws = wb["2025"]
    assert ws.freeze_panes == "D2"  # header row, rank, id and name stay in view
    head = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(head)}
    cap = ws.cell(row=2, column=col["装机容量 (kWp) / Capacity (kWp)"])
    assert cap.value == 100.0 and cap.number_format == "#,##0.0"
    assert ws.cell(row=2, column=col["投资 (元) / CAPEX (CNY)"]).number_format == "#,##0"
    assert ws.cell(row=2, column=col["经度 GCJ-02 (高德/腾讯) / Longitude GCJ-02 (Amap/Tencent)"]).number_format \
        == "0.000000"
    # the GCJ-02 header's longer half is 32 characters wide: the column is at least that
    letter = openpyxl.utils.get_column_letter(col["经度 GCJ-02 (高德/腾讯) / Longitude GCJ-02 (Amap/Tencent)"])
    assert ws.column_dimensions[letter].width >= len("Longitude GCJ-02 (Amap/Tencent)")


def test_summary_totals(book):
    _, wb = book
    _, rows = _rows(wb["汇总 Summary"])
    total = next(r for r in rows if r["工作表 / Sheet"] == "合计 / Total")
    # build years only: 100 + 80 + 60 + 50 = 290 kWp, 110 + 88 + 60 + 52 = 310 MWh (make_district)
    assert total["项目数 / Sites"] == 4
    assert total["装机容量 (kWp) / Capacity (kWp)"] == pytest.approx(290.0)
    assert total["年发电量 (MWh) / Annual generation (MWh)"] == pytest.approx(310.0)
    per_year = [r for r in rows if r["工作表 / Sheet"] in ("2025", "2030")]
    assert sum(r["装机容量 (kWp) / Capacity (kWp)"] for r in per_year) == pytest.approx(290.0)


def test_coordinates_wgs84_gcj02_cgcs2000(book):
    _, wb = book
    _, rows = _rows(wb["2025"])
    b1 = rows[0]
    lon, lat = b1["经度 WGS84 / Longitude WGS84"], b1["纬度 WGS84 / Latitude WGS84"]
    # B001's footprint is centred on the fixture's anchor point (CGCS2000 = WGS84 to centimetres)
    assert lon == pytest.approx(ANCHOR_LON_DEG, abs=1e-6) and lat == pytest.approx(ANCHOR_LAT_DEG, abs=1e-6)
    glon = b1["经度 GCJ-02 (高德/腾讯) / Longitude GCJ-02 (Amap/Tencent)"]
    glat = b1["纬度 GCJ-02 (高德/腾讯) / Latitude GCJ-02 (Amap/Tencent)"]
    # ../shared/REFERENCES.md: GCJ-02 is 100-700 m from WGS84 in Guangzhou
    d_m = np.hypot((glon - lon) * 111320 * np.cos(np.radians(lat)), (glat - lat) * 110574)
    assert 100 < d_m < 700
    back = gcj02_to_wgs84(glon, glat)
    assert float(back[0]) == pytest.approx(lon, abs=1e-7) and float(back[1]) == pytest.approx(lat, abs=1e-7)
    x, y = b1["X 坐标 CGCS2000 高斯-克吕格 (m) / X CGCS2000 Gauss-Kruger (m)"], \
        b1["Y 坐标 CGCS2000 高斯-克吕格 (m) / Y CGCS2000 Gauss-Kruger (m)"]
    # EPSG:4547 (CM 114 E, false easting 500 km): 113.35 E is west of the meridian, 23.13 N ~ 2,559 km north
    assert 400_000 < x < 500_000 and 2_500_000 < y < 2_600_000


def test_formula_like_text_stays_text_and_names_never_blank(tmp_path):
    d = make_district()
    d["plan"].loc[d["plan"]["building_id"] == "B003", "name"] = ""
    d["plan"].loc[d["plan"]["building_id"] == "B004", ["name", "address"]] = [None, None]
    paths = write_outputs(tmp_path / "o", **d, chart_font=None)
    wb = openpyxl.load_workbook(paths["shortlists.xlsx"])
    ws = wb["2025"]
    name_cell = ws.cell(row=3, column=3)  # B002's name is "=SUM(A1)" in make_district
    assert name_cell.value == "=SUM(A1)" and name_cell.data_type == "s"
    _, r30 = _rows(wb["2030"])
    names = {r["建筑编号 / Building ID"]: r["名称 / Name"] for r in r30}
    assert names == {"B003": "天河路 1 号", "B004": "B004"}  # the address, then the id
    csv = paths["shortlist_2030.csv"].read_text(encoding="utf-8-sig")
    assert ",B004,B004," in csv and ",B003,天河路 1 号," in csv


def test_same_plan_same_bytes(book, tmp_path):
    paths, _ = book
    again = write_outputs(tmp_path / "again", **make_district(), chart_font=None)
    assert again["shortlists.xlsx"].read_bytes() == paths["shortlists.xlsx"].read_bytes()


def test_reserve_and_class_sheets_cut_build_years_never(tmp_path):
    # three reserve sites (B003, B004 moved to the reserve) and a cut at 2 rows: the reserve sheet
    # holds the best-ranked two and says where the rest is; the build-year sheet is never cut
    d = make_district()
    d["plan"].loc[d["plan"]["building_id"].isin(["B003", "B004"]), "phase"] = "reserve"
    paths = write_outputs(tmp_path / "o", **d, chart_font=None, workbook_max_rows=1)
    wb = openpyxl.load_workbook(paths["shortlists.xlsx"])
    _, r25 = _rows(wb["2025"])
    assert [r["建筑编号 / Building ID"] for r in r25 if r["建筑编号 / Building ID"]] == ["B001", "B002"]
    values = [row for row in wb["储备 Reserve"].iter_rows(values_only=True)]
    ids = [r[1] for r in values[1:] if r[1]]
    assert len(ids) == 1  # the cut: 1 of 3
    assert any(r[0] and "2 more sites" in str(r[0]) and "另有 2 个项目" in str(r[0]) for r in values)
    _, summary = _rows(wb["汇总 Summary"])
    res = next(r for r in summary if r["工作表 / Sheet"] == "储备 Reserve")
    assert res["项目数 / Sites"] == 3 and "first 1 of 3" in res["内容 / Contents"]
    # the CSV keeps every reserve site
    csv = paths["shortlist_reserve.csv"].read_text(encoding="utf-8-sig")
    assert all(f",{b}," in csv for b in ("B003", "B004", "B005"))
