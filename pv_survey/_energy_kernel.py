"""The fused per-roof loop of :mod:`pv_survey.energy` (numba).

Everything that depends only on the hour (sun vector, Perez F1/F2 terms, air
temperature, SAPM wind factor) is computed once by :mod:`pv_survey.energy` and
passed in as arrays over the hours with light. This kernel does, for each roof
and each such hour, the steps that depend on the roof -- in the same order and
with the same formulas as the pvlib functions named in the comments -- and
accumulates monthly AC energy, plane-of-array irradiation and the same roof's
AC energy without horizon / sky-view losses.

All energies are per kWp of DC capacity: every step after the irradiance is
proportional to capacity (PVWatts DC, losses and the PVWatts inverter with
``pdc0 = capacity / dc_ac_ratio``), so :mod:`pv_survey.energy` multiplies by
capacity at the end.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath={"nsz", "arcp", "contract", "reassoc"}, error_model="numpy", inline="always")
def _ac_per_kwp(eff_w_m2, poa_w_m2, t_air_c, wind_fac, gamma_pdc_per_c, loss_keep_frac,
                dc_ac_ratio, eta_ratio, pac0_per_kwp):
    """AC power per kWp [kW/kWp] from effective and plane-of-array irradiance.

    pvlib.temperature.sapm_cell: T_cell = E_poa * exp(a + b*ws) + T_air + E_poa / 1000 * deltaT,
    with ``wind_fac = exp(a + b*ws) + deltaT / 1000`` precomputed per hour;
    pvlib.pvsystem.pvwatts_dc: P_dc = E_eff / 1000 * P_dc0 * (1 + gamma * (T_cell - 25));
    PVWatts losses: P_dc * (1 - losses);
    pvlib.inverter.pvwatts: zeta = P_dc / P_dc0,inv, eta = eta_nom / eta_ref * (-0.0162 zeta
    - 0.0059 / zeta + 0.9858), P_ac = clip(eta * P_dc, 0, eta_nom * P_dc0,inv).
    """
    t_cell = poa_w_m2 * wind_fac + t_air_c
    pdc = eff_w_m2 * 0.001 * (1.0 + gamma_pdc_per_c * (t_cell - 25.0)) * loss_keep_frac
    if pdc == 0.0:
        return 0.0
    # eta * pdc with zeta = pdc * dc_ac_ratio, so pdc / zeta = 1 / dc_ac_ratio: no division per hour
    pac = eta_ratio * ((0.9858 - 0.0162 * dc_ac_ratio * pdc) * pdc - 0.0059 / dc_ac_ratio)
    if pac > pac0_per_kwp:
        pac = pac0_per_kwp
    if pac < 0.0:
        pac = 0.0
    return pac


@njit(cache=True, error_model="numpy", inline="always")
def _cos_aoi(cos_tilt, sin_tilt, cos_zen, sun_x, sun_y, sin_az, cos_az):
    """Cosine of the angle of incidence, as pvlib.irradiance.aoi_projection clipped to [-1, 1]
    (pvlib GH 1185), and its projection max(cos aoi, 0); inlined into the calling kernel."""
    cos_aoi = cos_tilt * cos_zen + sin_tilt * (sun_x * sin_az + sun_y * cos_az)
    if cos_aoi > 1.0:
        cos_aoi = 1.0
    elif cos_aoi < -1.0:
        cos_aoi = -1.0
    return cos_aoi, (cos_aoi if cos_aoi > 0.0 else 0.0)


@njit(cache=True, error_model="numpy", inline="always")
def _perez_parts(d_iso, d_circ, d_hor, iso_tilt, proj, sin_tilt):
    """Perez sky diffuse components on the plane (pvlib.irradiance.perez, return_components=True):
    isotropic, circumsolar and horizon band of the hour's precomputed terms, all 0 when their sum is
    not positive (as pvlib's clipped total); inlined into the calling kernel."""
    iso = d_iso * iso_tilt
    circ = d_circ * proj
    hor = d_hor * sin_tilt
    if iso + circ + hor <= 0.0:
        return 0.0, 0.0, 0.0
    return iso, circ, hor


@njit(parallel=True, fastmath={"nsz", "arcp", "contract", "reassoc"}, cache=True, error_model="numpy")
def simulate_chunk(
    # per hour with light (length n_hours)
    cos_zen, sun_x, sun_y, sun_elev_deg, sector, dni, ghi, d_iso, d_circ, d_hor, t_air_c, wind_fac,
    month,
    # per roof (length n_roofs)
    cos_tilt, sin_tilt, cos_az, sin_az, ground_fac, ground_fac_base, iso_fac, iso_fac_base, hor_fac,
    hor_fac_base, iam_sky, iam_hor, iam_gnd, inv_gcr, mount_idx, need_base, hz_max_deg, horizon_deg,
    # constants
    iam_table, gamma_pdc_per_c, loss_keep_frac, dc_ac_ratio, eta_ratio, pac0_per_kwp,
    # outputs (per kWp)
    out_month_kwh, out_poa_kwh_m2, out_base_kwh, want_hourly, out_hourly_kwh,
):
    """Annual simulation of a chunk of roofs; see the module docstring.

    Parameters (hour arrays)
    ------------------------
    cos_zen, sun_x, sun_y : cos(z), sin(z) sin(az_sun), sin(z) cos(az_sun) of the apparent zenith z.
    sun_elev_deg : apparent sun elevation [deg]. sector : horizon sector index of the sun's azimuth.
    dni, ghi : [W/m2]. d_iso, d_circ, d_hor : Perez terms DHI*(1-F1)/2, DHI*F1/max(cos z, cos 85),
    DHI*F2 [W/m2] (0 where pvlib's Perez gives 0). t_air_c : [degC]. wind_fac : (2, n_hours)
    SAPM factor per mount (0 rack, 1 flush). month : 0..11.

    Parameters (roof arrays)
    ------------------------
    ground_fac = albedo x ground view (open: (1 - cos tilt) / 2, rows: 2-D view factor, reduced by the
    plane's sky view); ground_fac_base without the horizon; iso_fac = sky view x row sky mask;
    iso_fac_base = row sky mask; hor_fac, hor_fac_base : open share of the Perez horizon band with and
    without the horizon; iam_sky, iam_hor, iam_gnd : Marion's diffuse IAMs of the plane; inv_gcr = 1 / gcr of racked rows, 0 without rows;
    need_base : compute the no-horizon reference too; want_hourly : also write each hour's AC energy per
    kWp to out_hourly_kwh (n_roofs, n_hours), else that array is a (1, 1) placeholder; hz_max_deg : highest horizon value of the roof;
    horizon_deg : (n_roofs, n_quantiles, n_sectors) float32.
    """
    n_roofs = cos_tilt.shape[0]
    n_hours = cos_zen.shape[0]
    n_q = horizon_deg.shape[1]
    n_tab = iam_table.shape[0] - 1
    inv_nq = 1.0 / n_q
    for r in prange(n_roofs):
        ct = cos_tilt[r]
        st = sin_tilt[r]
        ca = cos_az[r]
        sa = sin_az[r]
        gfac = ground_fac[r]
        gfac0 = ground_fac_base[r]
        ifac = iso_fac[r]
        ifac0 = iso_fac_base[r]
        hfac = hor_fac[r]
        hfac0 = hor_fac_base[r]
        i_sky = iam_sky[r]
        i_hor = iam_hor[r]
        i_gnd = iam_gnd[r]
        igcr = inv_gcr[r]
        m_idx = mount_idx[r]
        base = need_base[r]
        hmax = hz_max_deg[r]
        iso_tilt = 1.0 + ct
        acc = np.zeros(12)
        poa_sum = 0.0
        base_sum = 0.0
        for h in range(n_hours):
            cz = cos_zen[h]
            cos_aoi, proj = _cos_aoi(ct, st, cz, sun_x[h], sun_y[h], sa, ca)
            # pvlib.irradiance.poa_components: max(dni cos(aoi), 0)
            beam0 = dni[h] * proj
            # inter-row shading of racked rows: pvlib.shading.shaded_fraction1d with equal rows,
            # axis azimuth = azimuth - 90, collector width 1, pitch 1/gcr, which reduces to
            # clip(1 - cos(z) / (gcr |cos aoi|), 0, 1)
            keep_row = 1.0
            if igcr > 0.0 and proj > 0.0:
                f_row = 1.0 - cz * igcr / abs(cos_aoi)
                if f_row > 1.0:
                    f_row = 1.0
                if f_row > 0.0:
                    keep_row = 1.0 - f_row
            # horizon: share of the roof's quantile profile values above the sun in its sector
            keep_hz = 1.0
            if sun_elev_deg[h] < hmax:
                k = sector[h]
                e = sun_elev_deg[h]
                cnt = 0
                for q in range(n_q):
                    if horizon_deg[r, q, k] > e:
                        cnt += 1
                keep_hz = 1.0 - cnt * inv_nq
            iso, circ, hor = _perez_parts(d_iso[h], d_circ[h], d_hor[h], iso_tilt, proj, st)
            ghi_h = ghi[h]
            # physical IAM (pvlib.iam.physical) tabulated over cos(aoi), linear interpolation; it applies to
            # beam and circumsolar light (both from the sun's direction)
            x = proj * n_tab
            i = int(x)
            if i >= n_tab:
                i = n_tab - 1
            iam = iam_table[i] + (x - i) * (iam_table[i + 1] - iam_table[i])
            # with horizon and sky view
            keep = keep_row * keep_hz
            beam = beam0 * keep
            s_iso = iso * ifac
            s_circ = circ * keep
            s_hor = hor * hfac
            sky = s_iso + s_circ + s_hor
            if sky < 0.0:  # pvlib clips poa_sky_diffuse at 0
                sky = 0.0
                sky_eff = 0.0
            else:
                sky_eff = s_iso * i_sky + s_circ * iam + s_hor * i_hor
            ground = ghi_h * gfac
            poa = beam + sky + ground
            eff = beam * iam + sky_eff + ground * i_gnd
            mh = month[h]
            ac = _ac_per_kwp(eff, poa, t_air_c[h], wind_fac[m_idx, h], gamma_pdc_per_c, loss_keep_frac,
                             dc_ac_ratio, eta_ratio, pac0_per_kwp)
            acc[mh] += ac
            poa_sum += poa
            if want_hourly:
                out_hourly_kwh[r, h] = ac
            if base:
                beam_b = beam0 * keep_row
                b_iso = iso * ifac0
                b_circ = circ * keep_row
                b_hor = hor * hfac0
                sky_b = b_iso + b_circ + b_hor
                if sky_b < 0.0:
                    sky_b = 0.0
                    sky_eff_b = 0.0
                else:
                    sky_eff_b = b_iso * i_sky + b_circ * iam + b_hor * i_hor
                ground_b = ghi_h * gfac0
                poa_b = beam_b + sky_b + ground_b
                eff_b = beam_b * iam + sky_eff_b + ground_b * i_gnd
                base_sum += _ac_per_kwp(eff_b, poa_b, t_air_c[h], wind_fac[m_idx, h], gamma_pdc_per_c,
                                        loss_keep_frac, dc_ac_ratio, eta_ratio, pac0_per_kwp)
        total = 0.0
        for mh in range(12):
            out_month_kwh[r, mh] = acc[mh]
            total += acc[mh]
        out_poa_kwh_m2[r] = poa_sum * 0.001
        out_base_kwh[r] = base_sum if base else total


@njit(parallel=True, fastmath={"nsz", "arcp", "contract"}, cache=True, error_model="numpy")
def poa_by_orientation(
    # per hour with light, sorted by (horizon sector, apparent sun elevation)
    cos_zen, sun_x, sun_y, sun_elev_deg, dni, ghi, d_iso, d_circ, d_hor, month, seg_start,
    # per orientation group
    cos_tilt, sin_tilt, cos_az, sin_az, ground_open,
    # tasks: (group, first cell, end cell) of cells sorted by group
    task_group, task_start, task_stop,
    # per cell
    horizon_deg, sky_view, band_open,
    # output
    out_month_kwh_m2,
):
    """Monthly plane-of-array irradiation of many cells, grouped by plane orientation.

    The same irradiance as :func:`simulate_chunk` (beam and circumsolar light kept in the hours
    when the sun stands above the cell's horizon in its sector, isotropic sky and ground-reflected
    light times the sky view, Perez's horizon band times its open share; hours whose unshaded Perez
    sky diffuse is not positive give no sky light), summed without the hour loop per cell: per
    orientation the beam + circumsolar irradiance of the hours of each sector, sorted by sun
    elevation, is summed from the top (suffix sums per month), so a cell whose horizon in sector k
    is H receives the suffix from the first hour with elevation >= H (binary search). A cell costs
    n_quantiles x n_sectors look-ups instead of one pass over ~4,400 hours.

    ``seg_start`` (n_sectors + 1): first sorted hour of each sector. ``ground_open`` = albedo
    (1 - cos tilt) / 2. ``horizon_deg`` (n_cells, n_quantiles, n_sectors) float32. Output in
    kWh/m2 per month (n_cells, 12).

    Not reproduced: :func:`simulate_chunk` clips the *shaded* sky diffuse at 0 in the rare hours
    where Perez's horizon term is negative and the shading would make the sum negative.
    """
    n_hours = cos_zen.shape[0]
    n_s = seg_start.shape[0] - 1
    n_q = horizon_deg.shape[1]
    inv_nq = 1.0 / n_q
    for t in prange(task_group.shape[0]):
        g = task_group[t]
        ct = cos_tilt[g]
        st = sin_tilt[g]
        ca = cos_az[g]
        sa = sin_az[g]
        gnd = ground_open[g]
        iso_tilt = 1.0 + ct
        beam = np.empty(n_hours)
        iso_m = np.zeros(12)
        hor_m = np.zeros(12)
        gnd_m = np.zeros(12)
        for h in range(n_hours):
            cz = cos_zen[h]
            cos_aoi, proj = _cos_aoi(ct, st, cz, sun_x[h], sun_y[h], sa, ca)
            iso, circ, hor = _perez_parts(d_iso[h], d_circ[h], d_hor[h], iso_tilt, proj, st)
            beam[h] = dni[h] * proj + circ
            mh = month[h]
            iso_m[mh] += iso
            hor_m[mh] += hor
            gnd_m[mh] += ghi[h] * gnd
        # suffix sums per sector and month: row j + k holds the hours j.. of sector k (row end + k = 0)
        suf = np.zeros((n_hours + n_s, 12))
        for k in range(n_s):
            a = seg_start[k]
            b = seg_start[k + 1]
            for j in range(b - 1, a - 1, -1):
                for mh in range(12):
                    suf[j + k, mh] = suf[j + 1 + k, mh]
                suf[j + k, month[j]] += beam[j]
        acc = np.empty(12)
        for c in range(task_start[t], task_stop[t]):
            for mh in range(12):
                acc[mh] = 0.0
            for q in range(n_q):
                for k in range(n_s):
                    a = seg_start[k]
                    b = seg_start[k + 1]
                    if a == b:
                        continue
                    hz = horizon_deg[c, q, k]
                    lo = a
                    hi = b
                    while lo < hi:  # first hour with elevation >= hz (the sun is above the horizon)
                        mid = (lo + hi) >> 1
                        if sun_elev_deg[mid] < hz:
                            lo = mid + 1
                        else:
                            hi = mid
                    row = lo + k
                    for mh in range(12):
                        acc[mh] += suf[row, mh]
            sv = sky_view[c]
            bo = band_open[c]
            for mh in range(12):
                out_month_kwh_m2[c, mh] = 0.001 * (acc[mh] * inv_nq + sv * (iso_m[mh] + gnd_m[mh]) + bo * hor_m[mh])
