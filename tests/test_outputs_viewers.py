"""The outputs in the programs people open them with: QGIS 3.22 (PyQGIS, headless) and Chromium.

Both run as separate processes of the system's Debian packages and are skipped, with the
apt-get line, where those are not installed:

- QGIS: ``apt-get install -y --no-install-recommends python3-qgis qgis-providers`` (QGIS 3.22 and
  GDAL 3.6 on Debian 12, the LTR still in government use);
- Chromium: ``apt-get install -y --no-install-recommends chromium``.

The hand-made district of ``test_outputs.py`` is written once; colours are checked in the
rendered images against the palette the styles declare (ColorBrewer values, see
``pv_survey/outputs/styles.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pv_survey.outputs import write_outputs
from test_outputs import make_district

SYSTEM_PYTHON = "/usr/bin/python3"
CHROMIUM = "/usr/bin/chromium"


def _has_pyqgis() -> tuple[bool, str]:
    if not Path(SYSTEM_PYTHON).exists():
        return False, f"{SYSTEM_PYTHON} not found"
    try:
        r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60,
                           env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{SYSTEM_PYTHON} -c 'import qgis.core' failed: {exc}"
    if r.returncode != 0:
        return False, ("PyQGIS not importable by the system Python; "
                       "apt-get install -y --no-install-recommends python3-qgis qgis-providers")
    return True, ""


HAS_QGIS, WHY_NO_QGIS = _has_pyqgis()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("viewers") / "run"
    write_outputs(out, **make_district(), chart_font=True)
    return out


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _pixels_near(png: Path, rgb: tuple[int, int, int], tol: int = 6) -> int:
    """Number of pixels within ``tol`` of ``rgb`` in every channel."""
    a = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).max(axis=2) <= tol).sum())


# --------------------------------------------------------------------------- QGIS

QGIS_SCRIPT = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from osgeo import gdal
gdal_msgs = []
def _gdal_handler(cls, no, msg):
    if cls >= gdal.CE_Warning:
        gdal_msgs.append(f"GDAL {cls}/{no}: {msg}")
gdal.PushErrorHandler(_gdal_handler)
from qgis.core import (Qgis, QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

gpkg, out_dir, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
app = QgsApplication([], False)
app.initQgis()
qgis_msgs = []
def _on_msg(message, tag, level):
    if level >= Qgis.Warning:
        qgis_msgs.append(f"{tag}: {message}")
QgsApplication.messageLog().messageReceived.connect(_on_msg)

# GDAL 3.6 itself reads every feature of every layer
ds = gdal.OpenEx(gpkg, gdal.OF_VECTOR)
for i in range(ds.GetLayerCount()):
    lyr = ds.GetLayer(i)
    for _f in lyr:
        pass
gdal_version = gdal.__version__
ds = None

result = {"qgis": Qgis.version(), "gdal": gdal_version, "layers": {}}
layers = {}
for name in names:
    lyr = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    layers[name] = lyr
    fields = lyr.fields()
    info = {
        "valid": lyr.isValid(), "count": lyr.featureCount(), "crs": lyr.crs().authid(),
        "renderer": lyr.renderer().type() if lyr.renderer() else None,
        "aliases": {fields.at(i).name(): lyr.attributeAlias(i) for i in range(fields.count())},
        "maptip": lyr.mapTipTemplate(), "labels": lyr.labelsEnabled(),
        "invalid_geometries": 0,
    }
    if lyr.isSpatial():
        info["invalid_geometries"] = sum(1 for f in lyr.getFeatures() if not f.geometry().isGeosValid())
    r = lyr.renderer()
    if r is not None and r.type() == "categorizedSymbol":
        info["categories"] = {c.value(): c.symbol().color().name() for c in r.categories()}
    if r is not None and r.type() == "singleSymbol":
        sl = r.symbol().symbolLayer(0)
        info["single"] = {"stroke": sl.strokeColor().name() if hasattr(sl, "strokeColor") else None,
                          "brush": int(sl.brushStyle()) if hasattr(sl, "brushStyle") else None}
    if r is not None and r.type() == "graduatedSymbol":
        info["ranges"] = [[g.lowerValue(), g.upperValue(), g.symbol().color().name()] for g in r.ranges()]
    result["layers"][name] = info

def render(lyrs, path):
    ms = QgsMapSettings()
    ms.setLayers(lyrs)
    ms.setDestinationCrs(layers["buildings"].crs())
    ext = layers["buildings"].extent()
    ext.grow(20)
    ms.setExtent(ext)
    ms.setOutputSize(QSize(900, 300))
    ms.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(ms)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(path, "PNG")

render([layers["buildings"]], os.path.join(out_dir, "buildings.png"))
render([layers["roofs"]], os.path.join(out_dir, "roofs.png"))
render([layers["plan"]], os.path.join(out_dir, "plan.png"))
render([layers["plan"], layers["roofs"], layers["buildings"]], os.path.join(out_dir, "map.png"))
result["gdal_messages"] = gdal_msgs
result["qgis_messages"] = qgis_msgs
print("RESULT " + json.dumps(result, ensure_ascii=False))
sys.stdout.flush()
# leave without QgsApplication.exitQgis(): QGIS 3.22 may crash tearing down layers at exit,
# after the work is done and reported
os._exit(0)
'''


@pytest.mark.skipif(not HAS_QGIS, reason=WHY_NO_QGIS)
def test_qgis_loads_every_layer_with_its_default_style(outputs, tmp_path):
    from pv_survey.outputs.styles import EXCLUDED_COLOUR, KEPT_COLOUR, YIELD_COLOURS, phase_colours

    script = tmp_path / "qgis_check.py"
    script.write_text(QGIS_SCRIPT, encoding="utf-8")
    names = ["buildings", "roofs", "plan", "targets", "coverage", "category_shares"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path),
           "HOME": str(tmp_path)}  # a fresh QGIS profile, nothing from the machine's settings
    proc = subprocess.run([SYSTEM_PYTHON, str(script), str(outputs / "survey.gpkg"), str(tmp_path), ",".join(names)],
                          capture_output=True, text=True, timeout=180, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads(line[len("RESULT "):])
    assert res["gdal_messages"] == []  # GDAL 3.6 reads the GeoPackage 1.2 without a warning
    assert res["qgis_messages"] == []
    lay = res["layers"]
    counts = {"buildings": 8, "roofs": 9, "plan": 6, "targets": 2, "coverage": 1, "category_shares": 1}
    for name in names:
        assert lay[name]["valid"], name
        assert lay[name]["count"] == counts[name], name
        assert lay[name]["invalid_geometries"] == 0
        assert lay[name]["aliases"]["fid"] == "要素编号 / Feature ID", name  # the default style applied
    for name in ("buildings", "roofs", "plan"):
        assert lay[name]["crs"] == "EPSG:4547"
    assert lay["buildings"]["renderer"] == "RuleRenderer" and lay["buildings"]["labels"]
    assert "excluded_reason" in lay["buildings"]["maptip"]
    assert lay["roofs"]["renderer"] == "graduatedSymbol"
    assert lay["plan"]["renderer"] == "categorizedSymbol"
    assert lay["plan"]["aliases"]["capacity_kwp"] == "装机容量 (kWp) / Capacity (kWp)"
    assert lay["targets"]["aliases"]["required_kwp"] == "目标容量 (kWp) / Required (kWp)"
    colours = phase_colours(["2025", "2030", "reserve", "pinned out"])
    assert lay["plan"]["categories"] == {k: v for k, v in colours.items()}
    # rendered images show the styles: phases, yield classes, excluded grey, kept light
    for phase in ("2025", "2030", "reserve", "pinned out"):
        assert _pixels_near(tmp_path / "plan.png", _rgb(colours[phase])) > 200, phase
    roofs = tmp_path / "roofs.png"
    used = {c for _lo, _hi, c in lay["roofs"]["ranges"]}
    assert YIELD_COLOURS[0] in used and YIELD_COLOURS[-1] in used
    assert _pixels_near(roofs, _rgb(YIELD_COLOURS[0])) > 200 and _pixels_near(roofs, _rgb(YIELD_COLOURS[-1])) > 200
    grey = tuple(round(c * 200 / 255 + 255 * 55 / 255) for c in _rgb(EXCLUDED_COLOUR))  # alpha 200 on white
    assert _pixels_near(tmp_path / "buildings.png", grey) > 200
    assert _pixels_near(tmp_path / "buildings.png", _rgb(KEPT_COLOUR)) > 200
    assert (tmp_path / "map.png").stat().st_size > 1000


@pytest.mark.skipif(not HAS_QGIS, reason=WHY_NO_QGIS)
def test_qgis_loads_the_boundary_layer_styled(tmp_path):
    import geopandas as gpd
    import shapely

    from test_outputs import METRIC_CRS

    d = make_district()
    x0, y0, x1, y1 = d["buildings"].total_bounds
    boundary = gpd.GeoDataFrame({"name": ["天河区"], "area_km2": [1.0]},
                                geometry=[shapely.box(x0 - 100, y0 - 100, x1 + 100, y1 + 100)], crs=METRIC_CRS)
    out = tmp_path / "run"
    write_outputs(out, **d, chart_font=None, extra_layers={"boundary": boundary})
    script = tmp_path / "qgis_check.py"
    script.write_text(QGIS_SCRIPT, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([SYSTEM_PYTHON, str(script), str(out / "survey.gpkg"), str(tmp_path),
                           "buildings,roofs,plan,boundary"], capture_output=True, text=True, timeout=180, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads(line[len("RESULT "):])
    assert res["qgis_messages"] == [] and res["gdal_messages"] == []
    b = res["layers"]["boundary"]
    assert b["valid"] and b["count"] == 1 and b["crs"] == "EPSG:4547" and b["renderer"] == "singleSymbol"
    assert b["aliases"]["area_km2"] == "面积 (km²) / Area (km²)"  # the pv-survey default style applied
    from pv_survey.outputs.styles import BOUNDARY_COLOUR
    assert b["single"] == {"stroke": BOUNDARY_COLOUR, "brush": 0}  # a dark outline, no fill (Qt.NoBrush)


# --------------------------------------------------------------------------- Chromium


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="Debian chromium not installed; apt-get install -y --no-install-recommends chromium")
def test_report_renders_in_headless_chromium(outputs, tmp_path):
    from pv_survey.outputs.styles import YIELD_COLOURS, phase_colours

    shot = tmp_path / "report.png"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0", "--window-size=1100,6000", "--hide-scrollbars"]
    url = (outputs / "report.html").as_uri()
    dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('src="data:image/png;base64,') == 4 and "<svg" in dom.stdout
    shot_run = subprocess.run([*args, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HOME": str(tmp_path)})
    assert shot_run.returncode == 0 and shot.exists(), shot_run.stderr[-2000:]
    log = dom.stderr + shot_run.stderr
    # no script errors and no attempt to reach the network (every host resolves to nothing)
    bad = [x for x in log.splitlines() if "Uncaught" in x or "net::ERR" in x or ("CONSOLE" in x and "rror" in x)]
    assert bad == []
    # the charts and the map were drawn: chart colours and phase colours on the screenshot
    assert _pixels_near(shot, _rgb("#08519c")) > 500  # 'planned' bars of the category and monthly charts
    assert _pixels_near(shot, _rgb(YIELD_COLOURS[2])) > 500  # specific-yield histogram bars
    colours = phase_colours(["2025", "2030"])
    for phase, colour in colours.items():
        assert _pixels_near(shot, _rgb(colour)) > 50, phase  # map footprints (and chart markers)
    # the reserve is drawn light (issue 17): fill-opacity 0.45 over the map background #fbfbf8,
    # i.e. 0.45 x colour + 0.55 x background (SVG alpha compositing, "over")
    res = np.array(_rgb(phase_colours(["reserve"])["reserve"]))
    light = tuple(int(round(v)) for v in 0.45 * res + 0.55 * np.array(_rgb("#fbfbf8")))
    assert _pixels_near(shot, light, tol=4) > 50



# --------------------------------------------------------------------------- QGIS on PostGIS

QGIS_PG_SCRIPT = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import Qgis, QgsApplication, QgsDataSourceUri, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
msgs = []
def _on_msg(message, tag, level):
    if level >= Qgis.Warning:
        msgs.append(f"{tag}: {message}")
QgsApplication.messageLog().messageReceived.connect(_on_msg)
host, port, db, user, schema = sys.argv[1:6]
out = {}
for name, geom in (("buildings", "geom"), ("roofs", "geom"), ("plan", "geom"), ("targets", None)):
    uri = QgsDataSourceUri()
    uri.setConnection(host, port, db, user, "")
    uri.setDataSource(schema, name, geom, "", "fid")
    lyr = QgsVectorLayer(uri.uri(False), name, "postgres")
    r = lyr.renderer()
    f = lyr.fields()
    out[name] = {"valid": lyr.isValid(), "count": lyr.featureCount(), "crs": lyr.crs().authid(),
                 "renderer": r.type() if r else None,
                 "alias": lyr.attributeAlias(f.indexOf("capacity_kwp")) if f.indexOf("capacity_kwp") >= 0 else ""}
out["messages"] = msgs
print("RESULT " + json.dumps(out, ensure_ascii=False))
sys.stdout.flush()
os._exit(0)
'''


@pytest.mark.skipif(not HAS_QGIS, reason=WHY_NO_QGIS)
def test_qgis_opens_postgis_layers_styled(request, tmp_path):
    url = request.getfixturevalue("postgis_url")
    from urllib.parse import urlsplit

    from pv_survey.outputs import result_layers, write_postgis

    d = make_district()
    layers = result_layers(**{k: d[k] for k in ("buildings", "roofs", "plan", "targets", "coverage",
                                                 "category_shares", "crs")})
    schema = "pv_outputs_qgis"
    write_postgis(url, schema, layers, d["crs"], overwrite=True)
    u = urlsplit(url)
    script = tmp_path / "qgis_pg.py"
    script.write_text(QGIS_PG_SCRIPT, encoding="utf-8")
    proc = subprocess.run([SYSTEM_PYTHON, str(script), u.hostname, str(u.port), u.path.lstrip("/"), u.username,
                           schema], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
                               "XDG_RUNTIME_DIR": str(tmp_path)})
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads(line[len("RESULT "):])
    expected = {"buildings": ("RuleRenderer", 8), "roofs": ("graduatedSymbol", 9), "plan": ("categorizedSymbol", 6)}
    for name, (renderer, n) in expected.items():
        assert res[name]["valid"] and res[name]["count"] == n and res[name]["crs"] == "EPSG:4547", name
        assert res[name]["renderer"] == renderer, name  # the default style from public.layer_styles
    assert res["plan"]["alias"] == "装机容量 (kWp) / Capacity (kWp)"
    assert res["targets"]["valid"] and res["targets"]["count"] == 2
    # QGIS 3.22 logs 'NOTICE: row number 0 is out of range' from libpq on PostgreSQL 15 for any
    # PostGIS layer (seen with and without a layer_styles table); anything else is a problem
    assert [m for m in res["messages"] if "NOTICE: row number 0 is out of range" not in m] == []
