"""pvlib's own ModelChain with Marion's diffuse IAM: the independent yield reference of the tests.

Written with pvlib only (no pv_survey import), so the engine and its plain reference path are checked
against code that shares nothing with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def modelchain_annual_kwh(weather, tilt_deg, azimuth_deg, capacity_kwp, temp_model, albedo=0.2):
    """pvlib's own ModelChain.with_pvwatts on the same weather (independent of pv_survey), with
    Marion's diffuse IAM (pvlib.iam.marion_diffuse) on the sky, horizon-band and ground light.

    ModelChain applies the IAM to beam light only; the effective irradiance is therefore built here
    from pvlib's own pieces (ModelChain's solar position and AOI, pvlib.irradiance.perez components,
    get_ground_diffuse, iam.physical for beam and circumsolar, marion_diffuse for the rest) and fed to
    ModelChain.run_model_from_effective_irradiance, which does temperature (from poa_global), PVWatts DC,
    losses and inverter.
    """
    import pvlib
    from pvlib.location import Location
    from pvlib.modelchain import ModelChain
    from pvlib.pvsystem import Array, FixedMount, PVSystem
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    array = Array(FixedMount(tilt_deg, azimuth_deg), albedo=albedo,
                  module_parameters={"pdc0": capacity_kwp * 1000.0, "gamma_pdc": -0.0035},
                  temperature_model_parameters=TEMPERATURE_MODEL_PARAMETERS["sapm"][temp_model])
    system = PVSystem(arrays=[array], inverter_parameters={"pdc0": capacity_kwp * 1000.0 / 1.2, "eta_inv_nom": 0.96},
                      losses_parameters={"shading": 0})
    loc = Location(weather.latitude_deg, weather.longitude_deg, tz="Asia/Shanghai", altitude=weather.altitude_m)
    mc = ModelChain.with_pvwatts(system, loc)
    d = weather.data
    mc.prepare_inputs(d)
    sp = mc.results.solar_position
    aoi = mc.results.aoi
    comps = pvlib.irradiance.perez(tilt_deg, azimuth_deg, d["dhi"], d["dni"], pvlib.irradiance.get_extra_radiation(d.index),
                                   sp["apparent_zenith"], sp["azimuth"], mc.results.airmass["airmass_relative"],
                                   return_components=True).fillna(0.0)
    beam = np.maximum(d["dni"] * np.cos(np.radians(aoi)), 0)
    ground = pvlib.irradiance.get_ground_diffuse(tilt_deg, d["ghi"], albedo=albedo)
    sky = comps["poa_isotropic"] + comps["poa_circumsolar"] + comps["poa_horizon"]
    with np.errstate(invalid="ignore"):
        m = pvlib.iam.marion_diffuse("physical", tilt_deg)
    iam_b = pvlib.iam.physical(aoi)
    m_gnd = 0.0 if not np.isfinite(m["ground"]) else m["ground"]
    sky_eff = (comps["poa_isotropic"] * m["sky"] + comps["poa_circumsolar"] * iam_b
               + comps["poa_horizon"] * m["horizon"]).where(sky >= 0, 0.0)
    eff = beam * iam_b + sky_eff + ground * m_gnd
    poa = beam + np.maximum(sky, 0) + ground
    mc.run_model_from_effective_irradiance(pd.DataFrame(
        {"effective_irradiance": eff, "poa_global": poa, "temp_air": d["temp_air"], "wind_speed": d["wind_speed"]}))
    return float(mc.results.ac.sum()) / 1000.0
