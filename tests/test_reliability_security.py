"""A tool that reads other people's files (issue 18, item 5): names stay inside the output
folder, and text from input data is escaped in every HTML, SVG, QML and XML output.

Passwords (PGPASSWORD, pgpass, service file; never shown) are tested against a real server in
tests/test_reliability_postgis.py; names from scenario and matrix files in the bad-input matrix
(tests/test_reliability_matrix.py: name-traversal, name-absolute, name-nul).
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import geopandas as gpd
import openpyxl
import pytest
import shapely

import _badinputs as bi
from pv_survey.batch import Scenario, run_batch
from pv_survey.cli import main
from pv_survey.config import Config, check_name
from pv_survey.errors import ConfigError

#: Names that break out of HTML text, attributes, comments, CDATA sections and inline SVG, and one
#: with a control character (removed on reading: XML 1.0 cannot hold it).
EVIL = ['<script>alert("x")</script>', "\" onmouseover='alert(1)' x=\"", "]]><evil/>",
        "</svg><img src=x onerror=alert(1)>", "a & b <c> \x01ctl", "<!-- --> ' \" --!>"]
ZONE = "<script>z()</script>]]>天河"


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logging):
    """The CLI points the root logger at a captured stream; put it back after each test."""


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["..", ".", "../escape", "/tmp/escape", "a/b", "a\\b", "C:evil", "a\x00b",
                                  "tab\there", "", "   ", "x" * 201])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ConfigError, match="a name becomes a folder name inside the output folder"):
        check_name(name, "--name")
    with pytest.raises(ConfigError, match="survey.name"):
        Config().replace(survey={"name": name})


@pytest.mark.parametrize("name", ["tianhe-2025", "天河区 2025", "sens__edge_setback_m-0.5", "v1.2", "..a", "a.."])
def test_ordinary_names_pass(name):
    assert check_name(name, "--name") == name


def test_cli_name_option_cannot_leave_the_outputs_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    b = tmp_path / "b.gpkg"
    bi.base_frame().to_file(b, layer="buildings", driver="GPKG")
    with pytest.raises(SystemExit) as info:
        main(["-q", "run", "--buildings", str(b), "--name", "../../escaped"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("Error: --name = '../../escaped' holds a path separator")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gpkg"]  # no outputs/ folder, nothing above


def test_batch_refuses_a_scenario_name_leading_outside(tmp_path):
    """A Scenario built in Python (not from a file) with a traversing name is refused, the batch goes on."""
    b = tmp_path / "b.gpkg"
    bi.base_frame().to_file(b, layer="buildings", driver="GPKG")
    cfg = Config().replace(inputs={"buildings": str(b)})
    res = run_batch([Scenario(name="../outside", config=cfg, source="api")], out_dir=tmp_path / "batch")
    assert res.outcomes[0].status == "failed" and "a name becomes a folder name" in res.outcomes[0].error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gpkg", "batch"]
    assert not (tmp_path / "outside").exists()


# --------------------------------------------------------------------------- escaping


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("evil")
    f = bi.base_frame()
    f["name"] = EVIL
    f["owner"] = EVIL[::-1]
    f["address"] = ["<b>addr</b>"] * len(f)
    f.to_file(d / "b.gpkg", layer="buildings", driver="GPKG")
    zones = gpd.GeoDataFrame({"name": [ZONE]},
                             geometry=[shapely.box(bi.X0_M - 50, bi.Y0_M - 50, bi.X0_M + 300, bi.Y0_M + 300)],
                             crs="EPSG:4547")
    zones.to_file(d / "zones.gpkg", layer="zones", driver="GPKG")
    out = d / "out"
    try:
        main(["-q", "run", "--buildings", str(d / "b.gpkg"), "--zones", str(d / "zones.gpkg"), "--out", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return out


#: What the names read back as: the control character removed on reading, nothing else changed.
READ_BACK = [n.replace("\x01", "") for n in EVIL]


def test_report_html_holds_names_as_text_only(evil_run):
    from pv_survey.outputs.report import MAP_SCRIPT

    html = (evil_run / "report.html").read_text(encoding="utf-8")
    # the one script is the map's pan/zoom, pv-survey's own text, no data in it: taken out, none is left
    own = f"<script>\n{MAP_SCRIPT}</script>"
    assert html.count(own) == 1
    p = _Tags()
    p.feed(html.replace(own, ""))
    tags = {t for t, _a in p.tags}
    assert "script" not in tags and "evil" not in tags
    assert all(t != "img" or a.get("src", "").startswith("data:image/png;base64,") for t, a in p.tags)
    assert not [(t, k) for t, a in p.tags for k in a if k.lower().startswith("on")]  # no event handler
    assert not p.comments  # '<!--' in a name never opened a comment
    text = "".join(p.text)
    for name in READ_BACK[:2] + [ZONE]:  # the first-ranked sites' names and the zone are shown as text
        assert name in text, name


def test_report_svg_is_well_formed_xml(evil_run):
    html = (evil_run / "report.html").read_text(encoding="utf-8")
    svgs = []
    start = html.find("<svg")
    while start != -1:
        end = html.index("</svg>", start) + len("</svg>")
        svgs.append(html[start:end])
        start = html.find("<svg", end)
    assert svgs  # the zone map and the site map
    titles = []
    for svg in svgs:
        root = ET.fromstring(svg)  # raises on a name that broke out of its element
        titles += ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}title")]
        titles += ["".join(t.itertext()) for t in root.iter("title")]
    assert any(ZONE in t for t in titles)


def test_qml_styles_are_well_formed_xml(evil_run):
    con = sqlite3.connect(evil_run / "survey.gpkg")
    try:
        rows = con.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall()
    finally:
        con.close()
    assert {"buildings", "plan", "zones"} <= {r[0] for r in rows}
    for name, qml in rows:
        ET.fromstring(qml.split("?>", 1)[1] if qml.startswith("<?xml") else qml)


def test_workbook_and_geopackage_keep_the_names(evil_run):
    wb = openpyxl.load_workbook(evil_run / "shortlists.xlsx", read_only=True)
    cells = {c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row
             if isinstance(c, str)}
    wb.close()
    assert set(READ_BACK) & cells  # names of planned sites, byte for byte (no entity left in them)
    import pyogrio
    b = pyogrio.read_dataframe(evil_run / "survey.gpkg", layer="buildings", read_geometry=False)
    assert sorted(b["name"]) == sorted(READ_BACK)
    flagged = b.loc[b["name"] == "a & b <c> ctl", "attribute_flags"].iloc[0]
    assert "name: 1 control characters removed" in flagged
