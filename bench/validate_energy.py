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


#: PVGIS's module temperature model for free-standing c-Si (Faiman form): u0 [W/m2/K], u1 [W s/m3/K]
#: (Huld & Amillo 2015, as used by PVGIS 5; pvlib.temperature.faiman).
PVGIS_FAIMAN_U0, PVGIS_FAIMAN_U1 = 26.9, 6.2
#: PVGIS's system loss in the 2019 request (../shared/data/PROVENANCE.md).
PVGIS_LOSS_FRAC = 0.14


def gap_terms(weather, pvgis_raw: Path, tilt: float = 26.0, az: float = 177.0) -> list[tuple[str, float]]:
    """The gap between pv-survey's yield and PVGIS's own hourly P, term by term.

    A plain pvlib chain with pv-survey's physics (as :func:`pv_survey.energy.reference_roof_energy`,
    racked, no rows, no horizon) on the PVGIS 2019 series read by pv-survey, then one term at a
    time swapped for PVGIS's: Martin-Ruiz IAM (beam, sky and ground; pvlib ``iam.martin_ruiz``,
    ``martin_ruiz_diffuse``), Huld's c-Si power model with the Faiman module temperature
    (``pvarray.huld``, ``temperature.faiman``), PVGIS's flat 14% loss without an inverter model,
    and last the plane-of-array irradiance PVGIS itself gives (``G(i)``, our components scaled hour
    by hour to it). Returns (step, specific yield kWh/kWp) in order; the last row is PVGIS's P.
    """
    import pandas as pd
    from pvlib import atmosphere, iam, inverter, irradiance, pvarray, pvsystem, solarposition, temperature
    from pvlib.iotools import read_pvgis_hourly

    from pv_survey.config import EnergyConfig
    from pv_survey.energy import DEFAULT_LOSSES_FRAC, ETA_INV_REF, _sapm_params

    d = weather.data
    t = d.index
    sp = solarposition.get_solarposition(t, weather.latitude_deg, weather.longitude_deg, altitude=weather.altitude_m,
                                         pressure=atmosphere.alt2pres(weather.altitude_m), temperature=d["temp_air"],
                                         method="nrel_numpy")
    zen, saz = sp["apparent_zenith"], sp["azimuth"]
    am = atmosphere.get_relative_airmass(zen, "kastenyoung1989")
    comps = irradiance.perez(tilt, az, d["dhi"], d["dni"], irradiance.get_extra_radiation(t), zen, saz, am,
                             model="allsitescomposite1990", return_components=True).fillna(0.0)
    ground = irradiance.get_ground_diffuse(tilt, d["ghi"], albedo=EnergyConfig.albedo)
    aoi = irradiance.aoi(tilt, az, zen, saz)
    beam = np.maximum(d["dni"] * np.cos(np.radians(aoi)), 0)
    iso, circ, hor = comps["poa_isotropic"], comps["poa_circumsolar"], comps["poa_horizon"]
    poa = beam + np.maximum(iso + circ + hor, 0) + ground
    # PVGIS's own G(i) on the same hours (its UTC stamp hh:30 = the hour's centre, as the reader places it)
    raw, _meta = read_pvgis_hourly(str(pvgis_raw), pvgis_format="json", map_variables=True)
    key = lambda idx: idx.tz_convert("UTC").strftime("%m%d%H")  # noqa: E731 (wrapped hours: same month-day-hour)
    g_i = pd.Series(raw["poa_global"].to_numpy(float), index=key(raw.index)).reindex(key(t)).to_numpy()
    p_pvgis = pd.Series(raw["P"].to_numpy(float), index=key(raw.index))
    pdc0 = 1000.0
    with np.errstate(invalid="ignore", divide="ignore"):
        marion = iam.marion_diffuse("physical", tilt)
        mr = iam.martin_ruiz_diffuse(tilt)
        mr_sky, mr_gnd = (mr["sky"], mr["ground"]) if isinstance(mr, dict) else mr
    ours_iam = (beam * iam.physical(aoi), iso * float(marion["sky"]) + circ * iam.physical(aoi)
                + hor * float(marion["horizon"]), ground * float(np.nan_to_num(marion["ground"])))
    mr_iam = (beam * iam.martin_ruiz(aoi), (iso + hor) * float(mr_sky) + circ * iam.martin_ruiz(aoi),
              ground * float(mr_gnd))

    def chain(effs, poa_global, model: str, loss: str) -> float:
        eff = sum(effs)
        if model == "pvwatts":
            tc = temperature.sapm_cell(poa_global, d["temp_air"], d["wind_speed"],
                                       **_sapm_params(EnergyConfig.temperature_model_rack))
            pdc = pvsystem.pvwatts_dc(eff, tc, pdc0, EnergyConfig.gamma_pdc_per_c)
        else:
            tm = temperature.faiman(poa_global, d["temp_air"], d["wind_speed"], PVGIS_FAIMAN_U0, PVGIS_FAIMAN_U1)
            pdc = pvarray.huld(eff.clip(lower=0), tm, pdc0, cell_type="csi").fillna(0.0).clip(lower=0)
        if loss == "ours":
            pac = inverter.pvwatts(pdc * (1 - DEFAULT_LOSSES_FRAC), pdc0 / EnergyConfig.dc_ac_ratio,
                                   eta_inv_nom=EnergyConfig.eta_inv_nom, eta_inv_ref=ETA_INV_REF)
        else:
            pac = pdc * (1 - PVGIS_LOSS_FRAC)
        return float(np.nansum(pac)) / 1000.0

    scale = np.where(poa.to_numpy() > 0, np.nan_to_num(g_i) / np.where(poa.to_numpy() > 0, poa.to_numpy(), 1), 0.0)
    g_series = pd.Series(np.nan_to_num(g_i), index=t)
    return [
        ("pv-survey's chain (Perez from gti_dirint GHI/DNI/DHI, physical + Marion IAM, SAPM + PVWatts, "
         "11.4% loss, inverter)", chain(ours_iam, poa, "pvwatts", "ours")),
        ("... IAM -> Martin-Ruiz (beam, sky, ground)", chain(mr_iam, poa, "pvwatts", "ours")),
        ("... temperature and DC -> Faiman (u0 26.9, u1 6.2) + Huld c-Si", chain(mr_iam, poa, "huld", "ours")),
        ("... losses -> PVGIS's flat 14%, no inverter model", chain(mr_iam, poa, "huld", "pvgis")),
        ("... plane-of-array irradiance -> PVGIS's own G(i)", chain(tuple(x * scale for x in mr_iam), g_series,
                                                                   "huld", "pvgis")),
        ("PVGIS's own P (sum / peak power)", float(p_pvgis.sum()) / 20000.0 / 1000.0),
    ], float(poa.sum()) / 1000.0, float(np.nansum(g_i)) / 1000.0


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
    # 5. the gap to PVGIS's own hourly P, term by term (PVGIS 2019 series, 26 deg / 177 deg)
    steps, poa_ours, poa_pvgis = gap_terms(pvgis, PVGIS)
    lines += ["", f"Gap to PVGIS, term by term (PVGIS-ERA5 2019 series, 26 deg / 177 deg; plane-of-array irradiation "
              f"pv-survey {poa_ours:,.1f} vs PVGIS G(i) {poa_pvgis:,.1f} kWh/m2):", "",
              "| step | kWh/kWp | change |", "|---|---:|---:|"]
    prev = None
    for name, y in steps:
        lines.append(f"| {name} | {y:,.1f} | {'' if prev is None else f'{100 * (y / prev - 1):+.2f}%'} |")
        prev = y
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "validation.md"
    out.write_text("Command: `.venv/bin/python -m bench.validate_energy`\n\n" + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
