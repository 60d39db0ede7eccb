"""report.html leads to a decision: the plain-words opening, the ranked table of the build-year
sites, the print map, and the layout in headless Chromium at 1,280 px and on A4 (issue 17).

The Chromium checks run Debian's chromium as a separate process and skip with the apt-get
line where it is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pv_survey.outputs import write_outputs
from pv_survey.outputs.report import SITE_TABLE_COLUMNS, site_table
from pv_survey.outputs.gpkg import result_layers
from test_outputs import make_district

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium; apt-get install -y chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]

# A script added to a COPY of the report (the report itself has none): after layout it
# writes the widths of the page and of every element wider than the window into the DOM.
PROBE = """<script>window.addEventListener("load",function(){var d=document.documentElement;
var r={scroll:d.scrollWidth,client:d.clientWidth,wide:[]};
document.querySelectorAll("table,figure,svg,img,section,h2,p").forEach(function(e){var b=e.getBoundingClientRect();
if(b.right>d.clientWidth+0.5)r.wide.push(e.tagName+" "+Math.round(b.right));});
var p=document.createElement("pre");p.id="probe";p.textContent=JSON.stringify(r);document.body.appendChild(p);});
</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    paths = write_outputs(out, **make_district(), chart_font=True)
    return paths["report.html"]


def test_plain_words_opening_says_what_to_build_and_the_targets(report):
    html = report.read_text(encoding="utf-8")
    plain = html[html.index('<section class="plain">'):html.index("</section>")]
    assert html.index('<section class="plain">') < html.index("<h2>目标 / Targets</h2>")  # it comes first
    # make_district: 2025 = B001 100 kWp + B002 80 kWp = 180 kWp, 110 + 88 = 198 MWh,
    # CAPEX 350,000 + 280,000 = 630,000 CNY (3,500 CNY/kWp)
    assert "2025年</b>：建设 2 个项目，共 180 kWp，年发电 198 MWh，投资约 63 万元" in plain
    assert "build 2 sites, 180 kWp in all, 198 MWh a year, about 630,000 CNY" in plain
    # first sites by rank, with why (B001 the district office, priority class government)
    assert "<li>区政府 — 100 kWp, 2025年 / by 2025: 党政机关优先 / Government priority" in plain
    # targets: 2025 met (200 >= 150 kWp), 2030 not met (310 < 400 kWp)
    assert re.search(r"installed PV 2025 / 2025年装机: <span class=\"yes\">.*?required 150 kWp.*?achieved 200 kWp",
                     plain)
    assert re.search(r"installed PV 2030 / 2030年装机: <span class=\"no\">.*?required 400 kWp.*?achieved 310 kWp",
                     plain)


def test_ranked_site_table():
    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    t = site_table(layers["plan"])
    assert list(t.columns) == [h for _c, h in SITE_TABLE_COLUMNS]
    # build years only (reserve B005 and pinned-out sites are not in it), in rank order
    assert t["rank"].tolist() == [1, 2, 3, 4]
    assert t["name"].tolist()[0] == "区政府" and t["category"].tolist()[0] == "党政机关 / Government"
    assert t["build_year"].tolist() == ["2025年 / by 2025"] * 2 + ["2030年 / by 2030"] * 2
    assert t["annual_mwh"].tolist() == pytest.approx([110.0, 88.0, 60.0, 52.0])  # annual_kwh / 1000
    assert all(w for w in t["why"])


def test_map_is_drawn_for_print(report):
    html = report.read_text(encoding="utf-8")
    svg = html[html.index('<figure id="map">'):html.index("</svg>")]
    # build-year sites labelled by rank (4 sites: ranks 1-4), outlined; legend, scale bar and north arrow
    ranks = re.findall(r'<text x="[-\d.]+" y="[-\d.]+" text-anchor="middle">(\d+)</text>', svg)
    assert sorted(map(int, ranks)) == [1, 2, 3, 4]
    assert svg.count('stroke="#222" stroke-width="1.2"') == 4
    assert "储备 / Reserve" in svg and "其他建筑 / other buildings" in svg  # legend inside the picture
    assert re.search(r">\d+(\.\d+)? (m|km)</text>", svg) and ">N</text>" in svg
    assert "@media print" in html and "@page{size:A4" in html


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """report.html of the embedded demo district, run as ``pv-survey run`` does: the plan's own targets
    table (23 columns), coverage and shares, not the hand-made fixture's."""
    import pv_survey

    out = tmp_path_factory.mktemp("demo") / "run"
    pv_survey.run_survey(pv_survey.Config(), out_dir=out)
    return out / "report.html"


def test_report_targets_table_keeps_the_compared_columns_and_lists_definitions(demo_report):
    from pv_survey.outputs.report import TARGET_TABLE_COLUMNS, target_table

    html = demo_report.read_text(encoding="utf-8")
    table = html[html.index("<h2>目标 / Targets</h2>"):]
    table = table[:table.index("</table>")]
    heads = re.findall(r"<th>(.*?)</th>", table)
    assert len(heads) == len(TARGET_TABLE_COLUMNS)
    assert "缺口 / Shortfall" in heads and "状态 / Status" in heads
    assert not any("Definition" in h or "Source" in h or "(kWp)" in h for h in heads)
    # each row's amounts in its own unit: kWp for capacity (the plan's 3 MW by 2025), percent for the
    # coverage share (its 50 % of new public-institution and factory buildings by 2025; both in
    # ../shared/REFERENCES.md and the default scenario), right-aligned
    rows = {re.sub(r"<.*?>", "", r[0]): r for r in
            (re.findall(r"<td[^>]*>.*?</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)[1:])}
    required = heads.index("要求值 / Required")
    cov = next(r for name, r in rows.items() if "coverage" in name)
    cap = next(r for name, r in rows.items() if name.startswith("installed PV 2025"))
    assert cov[required] == '<td class="n">50.0 %</td>' and cap[required] == '<td class="n">3,000.0</td>'
    assert re.fullmatch(r'<td class="n">\d+\.\d %</td>', cov[heads.index("现有光伏达成 / Achieved by existing PV")])
    # the definitions and the plan's source under the table instead
    notes = html[html.index('<ul class="defs">'):]
    notes = notes[:notes.index("</ul>")]
    assert "installed PV 2030 / 2030年装机: installed PV (existing + planned)" in notes
    assert "来源 / Source: Tianhe carbon-peak implementation plan 2024" in notes
    # a table with only the kWp amounts (an older targets table) shows those in their place
    kwp = make_district()["targets"]
    assert list(target_table(kwp).columns) == ["target", "year", "passed", "required_kwp", "existing_kwp",
                                               "planned_kwp", "achieved_kwp", "met", "margin_kwp", "n_sites",
                                               "status"]


@needs_chromium
@pytest.mark.parametrize("which", ["fixture", "demo district"])
@pytest.mark.parametrize("width", [1280, 794])  # a laptop window; A4 at 96 dpi (210 mm)
def test_no_horizontal_overflow_in_chromium(report, demo_report, tmp_path, width, which):
    page = report if which == "fixture" else demo_report
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    r = _chromium([f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                  tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout)
    assert m, r.stdout[-2000:]
    got = json.loads(m.group(1).replace("&quot;", '"'))
    assert got["wide"] == [] and got["scroll"] <= got["client"], got
    bad = [x for x in r.stderr.splitlines() if "Uncaught" in x or "net::ERR" in x]
    assert bad == []


@needs_chromium
def test_report_pdf_is_a4(tmp_path):
    paths = write_outputs(tmp_path / "o", **make_district(), chart_font=True, pdf=True)
    data = paths["report.pdf"].read_bytes()
    assert data.startswith(b"%PDF-")
    # A4 is 595 x 842 pt (ISO 216: 210 x 297 mm at 72 pt per inch); more than one page
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert len(boxes) >= 2 and all(abs(float(w) - 595) < 2 and abs(float(h) - 842) < 2 for w, h in boxes)
    assert "report.pdf" in paths["README.txt"].read_text(encoding="utf-8-sig")
    assert "report.pdf" in json.loads(paths["manifest.json"].read_text(encoding="utf-8"))["outputs"]


def test_long_ranked_table_is_cut_with_a_pointer_to_the_workbook(monkeypatch):
    from pv_survey.outputs import report as rep

    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    monkeypatch.setattr(rep, "REPORT_SITE_ROWS", 2)
    html = rep._ranked(site_table(layers["plan"]))  # 4 build-year sites in make_district
    assert html.count("<tr>") == 3  # header + 2 rows
    assert "all 4 in shortlists.xlsx" in html and "全部 4 个见 shortlists.xlsx" in html


def test_map_outlines_boundary_and_zones(tmp_path):
    import geopandas as gpd
    import shapely

    from test_outputs import METRIC_CRS

    d = make_district()
    bx0, by0, bx1, by1 = d["buildings"].total_bounds
    # a boundary 500 m beyond the footprints on every side, two zones splitting it
    boundary = gpd.GeoDataFrame({"name": ["天河区"]}, geometry=[shapely.box(bx0 - 500, by0 - 500, bx1 + 500, by1 + 500)],
                                crs=METRIC_CRS)
    mid = (bx0 + bx1) / 2
    zones = gpd.GeoDataFrame({"zone": ["A", "B"]}, geometry=[shapely.box(bx0 - 500, by0 - 500, mid, by1 + 500),
                                                          shapely.box(mid, by0 - 500, bx1 + 500, by1 + 500)],
                             crs=METRIC_CRS)
    paths = write_outputs(tmp_path / "o", **d, chart_font=None, extra_layers={"boundary": boundary, "zones": zones})
    html = paths["report.html"].read_text(encoding="utf-8")
    svg = html[html.index('<figure id="map">'):html.index("</svg>")]
    b = re.search(r'<path class="boundary" d="M([-\d.]+) ([-\d.]+) ', svg)
    assert b and '<path class="zones" d="M' in svg and "区界 / district boundary" in svg
    # the boundary sets the extent: its first corner (a box corner) lies on the drawing's edges
    w, h = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    x, y = float(b.group(1)), float(b.group(2))
    assert x in (0.0, w) and (abs(y - h) <= 1.0 or abs(y) <= 1.0)


# Added to a COPY of an interactive report: errors of any script recorded from the start; after
# load, a wheel notch over the map's centre, a drag of 100 px to the right, the zoom-out button
# and the reset button, the viewBox and the scale bar's text noted after each step.
ERRORS = """<script>window.__errors=[];window.addEventListener("error",function(e){window.__errors.push(String(e.message));});
</script>"""
ZOOM_PROBE = """<script>window.addEventListener("load",function(){
var svg=document.getElementById("plan-map"),r=svg.getBoundingClientRect(),cx=r.left+r.width/2,cy=r.top+r.height/2;
var out={tools_hidden:document.getElementById("map-tools").hidden,steps:[]};
function note(n){out.steps.push([n,svg.getAttribute("viewBox"),svg.querySelector(".sb-text").textContent,
svg.querySelector("g.overlay").getAttribute("transform")]);}
note("start");
svg.dispatchEvent(new WheelEvent("wheel",{deltaY:-100,clientX:cx,clientY:cy,bubbles:true,cancelable:true}));note("wheel");
for(var i=0;i<6;i++){svg.dispatchEvent(new WheelEvent("wheel",{deltaY:-100,clientX:cx,clientY:cy,bubbles:true,cancelable:true}));}
note("zoomed");
svg.dispatchEvent(new PointerEvent("pointerdown",{clientX:cx,clientY:cy,pointerId:1,bubbles:true}));
svg.dispatchEvent(new PointerEvent("pointermove",{clientX:cx+100,clientY:cy,pointerId:1,bubbles:true}));
svg.dispatchEvent(new PointerEvent("pointerup",{clientX:cx+100,clientY:cy,pointerId:1,bubbles:true}));note("drag");
document.getElementById("map-reset").click();note("reset");
out.width=r.width;out.errors=window.__errors;
var p=document.createElement("pre");p.id="probe";p.textContent=JSON.stringify(out);document.body.appendChild(p);});
</script>"""


@needs_chromium
def test_interactive_map_zooms_and_pans_in_chromium(tmp_path):
    from pv_survey.outputs.report import MAP_SCRIPT

    paths = write_outputs(tmp_path / "o", **make_district(), chart_font=None, report_interactive="on")
    html = paths["report.html"].read_text(encoding="utf-8")
    assert f"<script>\n{MAP_SCRIPT}</script>" in html and "src=" not in MAP_SCRIPT and "http" not in MAP_SCRIPT
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + ERRORS, 1).replace("</body>", ZOOM_PROBE + "</body>"),
                     encoding="utf-8")
    r = _chromium(["--window-size=1280,900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout)
    assert m, r.stdout[-2000:]
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert got["errors"] == [] and got["tools_hidden"] is False  # the script ran; its buttons are shown
    steps = {name: (tuple(map(float, vb.split())), bar, tr) for name, vb, bar, tr in got["steps"]}
    x0, y0, w0, h0 = steps["start"][0]
    # one wheel notch up zooms in by 0.8 about the pointer (the centre): the centre stays put
    x1, y1, w1, h1 = steps["wheel"][0]
    assert (w1, h1) == pytest.approx((0.8 * w0, 0.8 * h0))
    assert (x1 + w1 / 2, y1 + h1 / 2) == pytest.approx((x0 + w0 / 2, y0 + h0 / 2), abs=1.0)
    # zoomed in 0.8^7: the scale bar measures a shorter length, the legend is scaled to stay put
    assert steps["zoomed"][0][2] == pytest.approx(0.8 ** 7 * w0)
    assert steps["zoomed"][1] != steps["start"][1] and "scale(0.2097" in steps["zoomed"][2]
    # a drag of 100 px to the right moves the view 100 px x (view width / drawn width) to the left
    xz, wz = steps["zoomed"][0][0], steps["zoomed"][0][2]
    assert steps["drag"][0][0] == pytest.approx(xz - 100 * wz / got["width"], abs=0.05)
    # reset: the whole map again, the scale bar as drawn
    assert steps["reset"][0] == pytest.approx((x0, y0, w0, h0)) and steps["reset"][1] == steps["start"][1]
    bad = [x for x in r.stderr.splitlines() if "Uncaught" in x or "net::ERR" in x]
    assert bad == []


def test_interactive_map_off_and_auto(tmp_path, monkeypatch):
    from pv_survey.outputs import charts

    d = make_district()
    off = write_outputs(tmp_path / "off", **d, chart_font=None, report_interactive="off")
    html = off["report.html"].read_text(encoding="utf-8")
    assert "<script" not in html and 'id="map-tools"' not in html
    # 'auto': on while the map's footprints are vectors, off above (6 buildings in the district)
    monkeypatch.setattr(charts, "MAP_MAX_VECTOR_FOOTPRINTS", len(d["buildings"]))
    small = write_outputs(tmp_path / "a1", **d, chart_font=None)
    monkeypatch.setattr(charts, "MAP_MAX_VECTOR_FOOTPRINTS", len(d["buildings"]) - 1)
    big = write_outputs(tmp_path / "a2", **d, chart_font=None)
    assert "<script" in small["report.html"].read_text(encoding="utf-8")
    assert "<script" not in big["report.html"].read_text(encoding="utf-8")


def test_city_map_draws_the_background_as_one_picture():
    """Above ``max_vector_footprints`` the other, excluded and reserve footprints become one PNG
    under the vector layers; build-year sites stay vector, outlined and ranked."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    from pv_survey.outputs.charts import plan_map_svg
    from pv_survey.outputs.rastermap import SUPERSAMPLE
    from pv_survey.outputs.styles import RESERVE_COLOUR

    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    buildings, plan = layers["buildings"], layers["plan"]
    vector = plan_map_svg(buildings, plan)
    picture = plan_map_svg(buildings, plan, max_vector_footprints=1)
    assert '<image class="footprints"' not in vector
    assert picture.count('<image class="footprints" href="data:image/png;base64,') == 1
    # the build-year sites: the same outlined paths and rank labels in both drawings
    assert picture.count('stroke="#222" stroke-width="1.2"') == vector.count('stroke="#222" stroke-width="1.2"') == 4
    ranks = lambda svg: sorted(re.findall(r'text-anchor="middle">(\d+)</text>', svg))  # noqa: E731
    assert ranks(picture) == ranks(vector) == ["1", "2", "3", "4"]
    # the reserve site (B005) is no longer a vector path but pixels of the reserve colour
    assert 'fill-opacity="0.45" stroke="none"><title>' in vector
    assert 'fill-opacity="0.45" stroke="none"><title>' not in picture
    uri = re.search(r'href="data:image/png;base64,([^"]+)"', picture).group(1)
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("RGBA"))
    w, h = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', picture).groups())
    assert img.shape[:2] == (round(h) * SUPERSAMPLE, round(w) * SUPERSAMPLE)
    x0, y0, x1, y1 = buildings.geometry.total_bounds
    scale = w / (x1 - x0)
    reserve = plan[plan["phase"].astype(str) == "reserve"]
    assert len(reserve) == 1
    c = reserve.geometry.iloc[0].representative_point()
    px = img[int((y1 - c.y) * scale * SUPERSAMPLE), int((c.x - x0) * scale * SUPERSAMPLE)]
    expected = tuple(int(RESERVE_COLOUR.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    assert tuple(px[:3]) == expected and px[3] == round(0.45 * 255)


def test_plain_words_read_the_targets_table_as_the_plan_writes_it():
    """met is 'yes' / 'no' / 'n/a' text in the plan's targets table (a non-empty 'no' must not read as
    met); share targets are said as shares of their buildings or roof area, not in kWp."""
    import pandas as pd

    from pv_survey.outputs.report import plain_words

    targets = pd.DataFrame([
        {"target": "cap 2030", "unit": "kWp", "required": 6000.0, "achieved_plan": 5200.0, "met": "no",
         "required_kwp": 6000.0, "achieved_kwp": 5200.0},
        {"target": "coverage 2025", "unit": "buildings", "required": 0.5, "achieved_plan": 0.5, "met": "yes",
         "required_kwp": float("nan"), "achieved_kwp": float("nan")},
        {"target": "roofs homes", "unit": "m2", "required": 0.2, "achieved_plan": 0.0, "met": "n/a",
         "required_kwp": float("nan"), "achieved_kwp": float("nan")},
    ])
    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    html = plain_words({}, targets, layers["plan"])
    assert re.search(r"cap 2030: <span class=\"no\">未达标 / not met</span> — .*?6,000 kWp, .*?5,200 kWp", html)
    assert re.search(r"coverage 2025: <span class=\"yes\">达标 / met</span> — .*?50% 建筑 / of the buildings, "
                     r".*?50% 建筑 / of the buildings", html)
    assert 'roofs homes: <span class="na">不适用 / n/a</span>' in html and "20% 屋面面积 / of the roof area" in html
    assert "— kWp" not in html


def test_monthly_chart_sums_kept_roofs_and_the_planned_buildings_roofs():
    """Hand sums: kept roofs only (an excluded roof of a planned building is left out), a missing
    month counts 0, a building with two kept roofs counts both."""
    import numpy as np
    import pandas as pd

    from pv_survey.outputs.charts import monthly_mwh

    months = {f"kwh_{m:02d}": [1000.0 * m, 500.0, 2000.0, np.nan] for m in range(1, 13)}
    roofs = pd.DataFrame({"building_id": pd.array(["A", "A", "B", "C"], dtype="str"),
                          "excluded_reason": ["", "", "", "shaded"], **months})
    all_mwh, planned_mwh = monthly_mwh(roofs, ["A", "C"])
    np.testing.assert_allclose(all_mwh, [(1000.0 * m + 500.0 + 2000.0) / 1000 for m in range(1, 13)])
    np.testing.assert_allclose(planned_mwh, [(1000.0 * m + 500.0) / 1000 for m in range(1, 13)])
    none_planned = monthly_mwh(roofs, [])[1]
    assert (none_planned == 0).all()
    no_months = monthly_mwh(roofs[["building_id", "excluded_reason"]], ["A"])
    assert (no_months[0] == 0).all() and (no_months[1] == 0).all()


def test_plan_map_without_a_phase_column_draws_the_footprints():
    """A plan frame without ``phase`` (a notebook user's own table) draws every footprint as
    'other buildings', as vectors and as the city picture, with no build-year marker."""
    import geopandas as gpd
    from shapely.geometry import box

    from pv_survey.outputs.charts import plan_map_svg

    b = gpd.GeoDataFrame({"building_id": ["a", "b"], "excluded_reason": ["", ""]},
                         geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)], crs="EPSG:4547")
    p = gpd.GeoDataFrame({"building_id": ["a"], "rank": [1], "capacity_kwp": [5.0]},
                         geometry=[box(0, 0, 10, 10)], crs="EPSG:4547")
    vector = plan_map_svg(b, p)
    picture = plan_map_svg(b, p, max_vector_footprints=0)
    assert 'fill="#e3e3e3"' in vector and 'class="mk"' not in vector
    assert 'class="footprints"' in picture and 'class="mk"' not in picture


def test_years_are_written_without_thousands_separators(tmp_path):
    """Every year column of the report's tables (the targets' due year too) reads 2027, not 2,027;
    amounts per year keep their separators."""
    from pv_survey.outputs.report import format_value

    for col in ("year", "due_year", "build_year", "coverage_year", "year_built"):
        assert format_value(col, 2027) == ("2027", True), col
    assert format_value("max_kwp_per_year", 2027.0) == ("2,027.0", True)
    assert format_value("capex_cny", 2027) == ("2,027", True)
    # the plan's targets table carries a due year: the report's targets table shows it plain
    d = make_district()
    html = write_outputs(tmp_path / "due", **{**d, "targets": d["targets"].assign(due_year=2027)},
                         chart_font=None)["report.html"].read_text(encoding="utf-8")
    assert '<td class="n">2027</td>' in html and '<td class="n">2,027</td>' not in html
