"""Energy validation table (issue 14): ``python -m bench.validate_energy``.

Prints (and writes ``bench/results/validation.md``) the figures the README's
validation table quotes, each from the project's engine next to an independent
figure: PVGIS's published yield, pvlib's infinite-sheds model, the 2-D view
factor of a canyon and the east/west ratio of the PVGIS series. Needs
``../shared/data`` (the TMYx EPW and the PVGIS 2019 series) beside the repository.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EPW = SHARED / "CHN_GD_Guangzhou.592870_TMYx.2009-2023.epw"
PVGIS = SHARED / "CHN_Guangzhou_PVGIS_seriescalc_2019_raw.json"
#: PVGIS-ERA5 2019, 26 deg / azimuth -3 (PVGIS) = 177 deg, free-standing, 14% loss (../shared/REFERENCES.md).
PVGIS_YIELD_KWH_KWP = 1197.0


def _yield(w, tilt, az, **kw):
    from pv_survey.energy import simulate_roofs

    kw.setdefault("mount", "rack")
    r = simulate_roofs(w, [tilt], [az], [1.0], **kw)
    return float(r["specific_yield_kwh_kwp"].iloc[0])


def main(argv: list[str] | None = None) -> int:
    from pvlib.bifacial import infinite_sheds

    from pv_survey import energy as E
    from pv_survey import weather as W
    from pv_survey.energy import losses_frac_from_pct
    from pv_survey.shading import plane_sky_view_frac

    if not (EPW.is_file() and PVGIS.is_file()):
        print(f"needs {EPW} and {PVGIS}", file=sys.stderr)
        return 2
    rows: list[tuple[str, str, str]] = []
    epw_conv = W.read_weather(EPW, "convention")
    epw = W.read_weather(EPW)
    pvgis = W.read_weather(PVGIS)
    rows.append(("TMYx EPW timing (auto)", f"{epw.time_offset_min:+.0f} min",
                 next(n for n in epw.notes if n.startswith("time alignment"))))
    # 1. south 26 deg / 177 deg, racked, unshaded, no rows; PVGIS's 14% loss as well as the project's 11.4%
    loss14 = 0.14
    for name, w in (("TMYx EPW, by the EPW convention", epw_conv), ("TMYx EPW, aligned", epw),
                    ("PVGIS-ERA5 2019 series", pvgis)):
        y = _yield(w, 26.0, 177.0)
        y14 = _yield(w, 26.0, 177.0, losses_frac=loss14)
        rows.append((f"26 deg / 177 deg yield, {name}", f"{y:,.1f} kWh/kWp ({y14:,.1f} at 14% loss)",
                     f"PVGIS {PVGIS_YIELD_KWH_KWP:,.0f} at 14% loss: {100 * (y14 / PVGIS_YIELD_KWH_KWP - 1):+.1f}%"))
    # the same without the issue-14 diffuse IAM, to show its size
    # 2. east / west ratio
    for name, w in (("TMYx EPW, by the EPW convention", epw_conv), ("TMYx EPW, aligned", epw),
                    ("PVGIS-ERA5 2019 series", pvgis)):
        r = E.simulate_roofs(w, [30.0, 30.0], [90.0, 270.0], [1.0, 1.0], mount="flush")
        y = r["specific_yield_kwh_kwp"].to_numpy()
        rows.append((f"W/E ratio, 30 deg flush, {name}", f"{y[1] / y[0]:.3f}", "REFERENCES.md: 1.073 conv., 0.988 PVGIS"))
    # 3. racked rows 15 deg, GCR 0.751: sky view of the row front vs pvlib infinite sheds; yield cost of masking
    sky, gnd = E.row_view_factors(np.array([15.0]), np.array([0.751]))
    ish = infinite_sheds.get_irradiance_poa(15.0, 180.0, 60.0, 180.0, 0.751, 1.0, 1 / 0.751, ghi=100.0, dhi=100.0,
                                            dni=0.0, albedo=0.0, model="isotropic")["poa_sky_diffuse"] / 100.0
    rows.append(("row front sky view, 15 deg / GCR 0.751", f"{sky[0] * 0.5 * (1 + math.cos(math.radians(15))):.5f}",
                 f"pvlib infinite_sheds: {float(np.squeeze(ish)):.5f}"))
    y_rows = _yield(epw, 15.0, 180.0, gcr=0.751)
    y_open = _yield(epw, 15.0, 180.0)
    rows.append(("rows 15 deg / GCR 0.751 vs no rows (TMYx aligned)", f"{100 * (y_rows / y_open - 1):+.2f}%",
                 "beam shading + 2-D sky and ground view factors"))
    # 4. canyon facade: vertical south wall facing an infinite wall at 30 deg straight ahead
    n = 72
    phi = np.radians(np.arange(n) * 360.0 / n - 180.0)
    h0 = 30.0
    wall = np.where(np.cos(phi) > 0, np.degrees(np.arctan(math.tan(math.radians(h0)) * np.cos(phi))), 0.0)
    behind = np.where(np.cos(phi) < -1e-9, 90.0, wall)
    s, band = plane_sky_view_frac(behind[None], 90.0, 180.0)
    rows.append(("canyon facade sky view (wall at 30 deg)", f"{0.5 * s[0]:.4f}",
                 f"2-D view factor (1 - sin 30)/2 = {(1 - math.sin(math.radians(h0))) / 2:.4f}"))
    y_open_f = _yield(epw, 90.0, 180.0, mount="flush")
    y_can = _yield(epw, 90.0, 180.0, mount="flush", horizon_deg=behind[None])
    rows.append(("canyon facade yield vs open facade (TMYx aligned)", f"{y_can:,.1f} vs {y_open_f:,.1f} kWh/kWp",
                 f"band open {band[0]:.2f}; ground view x sky view"))
    rows.append(("project losses", f"{100 * losses_frac_from_pct(shading=0):.2f}%", "pvlib pvwatts_losses, shading 0"))
    lines = ["| check | pv-survey | independent figure |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "validation.md"
    out.write_text("Command: `.venv/bin/python -m bench.validate_energy`\n\n" + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
