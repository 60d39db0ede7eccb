"""The fused per-roof loop of :mod:`pv_survey.energy` (numba).

Everything that depends only on the hour (sun vector, Perez F1/F2 terms, air
temperature, SAPM wind factor) is computed once by :mod:`pv_survey.energy` and
passed in as arrays over the hours with light. This kernel does, for each roof
and each such hour, the steps that depend on the roof -- in the same order and
with the same formulas as the pvlib functions named in the comments -- and
accumulates monthly AC energy, plane-of-array irradiation and the same roof's
AC energy without horizon / sky-view losses.

:func:`yield_by_orientation` gives the same annual figures for many surfaces of one horizon
profile each, grouped by orientation, without the hour loop per surface (module row segments).

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
def _row_keep(cos_zen, cos_aoi, proj, inv_gcr):
    """Unshaded share of racked rows: pvlib.shading.shaded_fraction1d with equal rows, axis azimuth =
    azimuth - 90, collector width 1, pitch 1/gcr, which reduces to clip(1 - cos(z) / (gcr |cos aoi|),
    0, 1) kept as 1 - that; 1 without rows (``inv_gcr`` 0) or with the sun behind the plane."""
    keep_row = 1.0
    if inv_gcr > 0.0 and proj > 0.0:
        f_row = 1.0 - cos_zen * inv_gcr / abs(cos_aoi)
        if f_row > 1.0:
            f_row = 1.0
        if f_row > 0.0:
            keep_row = 1.0 - f_row
    return keep_row


@njit(cache=True, error_model="numpy", inline="always")
def _iam_at(proj, iam_table, n_tab):
    """Physical IAM (pvlib.iam.physical) tabulated over cos(aoi) = ``proj``, linear interpolation."""
    x = proj * n_tab
    i = int(x)
    if i >= n_tab:
        i = n_tab - 1
    return iam_table[i] + (x - i) * (iam_table[i + 1] - iam_table[i])


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


@njit(nogil=True, parallel=True, fastmath={"nsz", "arcp", "contract", "reassoc"}, cache=True, error_model="numpy")
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
            keep_row = _row_keep(cz, cos_aoi, proj, igcr)
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
            iam = _iam_at(proj, iam_table, n_tab)
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


@njit(nogil=True, parallel=True, fastmath={"nsz", "arcp", "contract"}, cache=True, error_model="numpy")
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


# --------------------------------------------------------------------------- yield by orientation
#
# Within one orientation (tilt, azimuth, mount, gcr) and one hour, a point with one horizon profile
# is in one of two states -- the sun above its horizon in the sun's sector (beam and circumsolar
# light kept) or behind it -- and its irradiances are linear in its sky view s and open horizon-band
# share b: E_eff = e0 + e1 s + e2 b, E_poa = p0 + p1 s + p2 b. The SAPM cell temperature is linear in
# E_poa, so PVWatts DC is quadratic in (s, b) and the PVWatts inverter's quadratic efficiency curve
# makes AC power a polynomial of degree 4 in (s, b): 15 coefficients that add up over hours. Where
# no clipping rule (AC below 0 or above the inverter's limit, sky diffuse below 0) can act for any
# point of the group the sum of the polynomials is the exact sum of the hours; the other hours of
# the group ("risky") are simulated per point as simulate_chunk does.

#: Monomials s^i b^j of degree <= 4 (i, j) in the order of the coefficient vectors: the powers of s
#: first, so a group whose horizon band plays no part (b absent) needs only the first 5.
_MONO_I = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 0, 1, 0], dtype=np.int64)
_MONO_J = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4], dtype=np.int64)
#: Flat position of s^i b^j (i + j <= 4) in those vectors; -1 elsewhere.
_MONO_AT = np.full((5, 5), -1, dtype=np.int64)
for _k in range(_MONO_I.size):
    _MONO_AT[_MONO_I[_k], _MONO_J[_k]] = _k
del _k
#: The monomials of degree <= 2 (the DC power's): 1, s, b, s^2, s b, b^2.
_QUAD_I = np.array([0, 1, 0, 2, 1, 0], dtype=np.int64)
_QUAD_J = np.array([0, 0, 1, 0, 1, 2], dtype=np.int64)
#: Position of each DC monomial, and of the product of two, in the AC coefficient vectors.
_QUAD_AT = np.array([_MONO_AT[_QUAD_I[a], _QUAD_J[a]] for a in range(6)], dtype=np.int64)
_PROD_AT = np.array([[_MONO_AT[_QUAD_I[a] + _QUAD_I[c], _QUAD_J[a] + _QUAD_J[c]] for c in range(6)]
                     for a in range(6)], dtype=np.int64)
#: Columns of the per-hour tables: the POA constant [W/m2], then 15 AC coefficients [kW/kWp]; the
#: totals add the POA coefficients of s and b.
_N_AC = 15
_N_COL = 16
#: Sun elevation buckets of the per-sector look-up that starts each point's search [deg].
_BUCKET_DEG = 0.1


@njit(cache=True, fastmath={"nsz", "arcp", "contract"}, error_model="numpy", inline="always")
def _pac_of_pdc(pdc, dc_ac_ratio, eta_ratio):
    """PVWatts inverter before its clipping, as in :func:`_ac_per_kwp` [kW/kWp]."""
    return eta_ratio * ((0.9858 - 0.0162 * dc_ac_ratio * pdc) * pdc - 0.0059 / dc_ac_ratio)


@njit(cache=True, fastmath={"nsz", "arcp", "contract"}, error_model="numpy", inline="always")
def _hour_state_poly(e0, e1, e2, p0, p1, p2, sky0, sky1, sky2, t_air_c, wind_fac, s_lo, s_hi, b_lo, b_hi,
                     gamma_pdc_per_c, loss_keep_frac, dc_ac_ratio, eta_ratio, pac0_per_kwp, d, out):
    """AC power per kWp of one hour and state as a polynomial in (s, b); False when not exact.

    ``e*``, ``p*``, ``sky*`` : coefficients of effective, plane-of-array and sky diffuse irradiance in
    (1, s, b) [W/m2]; ``s_lo..s_hi``, ``b_lo..b_hi`` : the box of the group's points; ``d`` : scratch
    array of 6 (the DC power's coefficients). Writes the 15
    coefficients of :data:`_MONO_I` / :data:`_MONO_J` to ``out`` [kW/kWp] and returns True when, for every
    point in the box, the AC power of :func:`_ac_per_kwp` equals that polynomial (0 or the inverter
    limit included, written as constants); returns False (a risky hour) when the sky diffuse may be
    clipped at 0 or the AC power may cross 0 or the limit.
    """
    for i in range(_N_AC):
        out[i] = 0.0
    # sky diffuse over the box: linear, so its least value is at a corner
    sky_min = sky0 + min(sky1 * s_lo, sky1 * s_hi) + min(sky2 * b_lo, sky2 * b_hi)
    if sky_min < 0.0:
        return False
    eff_lo = e0 + min(e1 * s_lo, e1 * s_hi) + min(e2 * b_lo, e2 * b_hi)
    eff_hi = e0 + max(e1 * s_lo, e1 * s_hi) + max(e2 * b_lo, e2 * b_hi)
    poa_lo = p0 + min(p1 * s_lo, p1 * s_hi) + min(p2 * b_lo, p2 * b_hi)
    poa_hi = p0 + max(p1 * s_lo, p1 * s_hi) + max(p2 * b_lo, p2 * b_hi)
    k = 0.001 * loss_keep_frac
    # DC factor of the cell temperature, 1 + gamma (T_cell - 25): linear in E_poa
    qa = 1.0 + gamma_pdc_per_c * (poa_lo * wind_fac + t_air_c - 25.0)
    qb = 1.0 + gamma_pdc_per_c * (poa_hi * wind_fac + t_air_c - 25.0)
    q_lo = min(qa, qb)
    q_hi = max(qa, qb)
    c1 = eff_lo * q_lo
    c2 = eff_lo * q_hi
    c3 = eff_hi * q_lo
    c4 = eff_hi * q_hi
    pdc_lo = k * min(min(c1, c2), min(c3, c4))
    pdc_hi = k * max(max(c1, c2), max(c3, c4))
    if pdc_hi * (0.0324 * dc_ac_ratio) >= 0.9858:  # beyond the top of the efficiency curve: not monotone
        return False
    pac_lo = _pac_of_pdc(pdc_lo, dc_ac_ratio, eta_ratio)
    pac_hi = _pac_of_pdc(pdc_hi, dc_ac_ratio, eta_ratio)
    if pac_hi <= 0.0:  # no AC power anywhere in the box (pdc == 0 included)
        return True
    if pac_lo >= pac0_per_kwp:  # clipped everywhere
        out[0] = pac0_per_kwp
        return True
    if pac_lo <= 0.0 or pac_hi > pac0_per_kwp:
        return False
    # pdc = k (e0 + e1 s + e2 b)(q0 + q1 s + q2 b): quadratic, 6 coefficients (_QUAD_I, _QUAD_J)
    gw = gamma_pdc_per_c * wind_fac
    q0 = 1.0 + gamma_pdc_per_c * (p0 * wind_fac + t_air_c - 25.0)
    q1 = gw * p1
    q2 = gw * p2
    d[0] = k * e0 * q0
    d[1] = k * (e1 * q0 + e0 * q1)
    d[2] = k * (e2 * q0 + e0 * q2)
    d[3] = k * e1 * q1
    d[4] = k * (e1 * q2 + e2 * q1)
    d[5] = k * e2 * q2
    lin = eta_ratio * 0.9858
    quad = eta_ratio * 0.0162 * dc_ac_ratio
    for a in range(6):
        if d[a] == 0.0:
            continue
        out[_QUAD_AT[a]] += lin * d[a]
        out[_PROD_AT[a, a]] -= quad * d[a] * d[a]
        two = 2.0 * quad * d[a]
        for c in range(a + 1, 6):  # the square's cross terms once, doubled
            out[_PROD_AT[a, c]] -= two * d[c]
    out[0] -= eta_ratio * 0.0059 / dc_ac_ratio
    return True


@njit(nogil=True, parallel=True, fastmath={"nsz", "arcp", "contract"}, cache=True, error_model="numpy")
def yield_by_orientation(
    # per hour with light, sorted by (horizon sector, apparent sun elevation)
    cos_zen, sun_x, sun_y, sun_elev_deg, dni, ghi, d_iso, d_circ, d_hor, t_air_c, wind_fac, seg_start,
    bucket_start, bucket_e0_deg,
    # per orientation group
    cos_tilt, sin_tilt, cos_az, sin_az, ground_open, row_sky, row_band, iam_sky, iam_hor, iam_gnd, inv_gcr,
    mount_idx,
    # tasks: (group, first point, end point) of points sorted by group
    task_group, task_start, task_stop,
    # per point
    horizon_deg, sky_view, band_open,
    # constants
    iam_table, gamma_pdc_per_c, loss_keep_frac, dc_ac_ratio, eta_ratio, pac0_per_kwp,
    # outputs
    out_ac_per_kwp, out_poa_kwh_m2, out_risky_hours,
):
    """Annual AC energy per kWp and plane-of-array irradiation of many points grouped by orientation.

    The same hours, irradiance and model chain as :func:`simulate_chunk` for points with one
    horizon profile (``n_quantiles = 1``), without its hour loop per point: per task (a group's
    points or a slice of them) each hour is written, for the sun visible and for the sun hidden,
    as a polynomial of degree 4 in the point's sky view ``s`` and open horizon-band share ``b``
    (:func:`_hour_state_poly`; AC power [kW/kWp] and POA [W/m2]); the hours of each sector are
    sorted by sun elevation and their visible-minus-hidden coefficients summed from the top, so a
    point whose horizon in sector k is H adds the suffix from the first hour with elevation >= H
    (a bucket look-up and a short scan), and evaluates the summed polynomial at its (s, b). Hours where a clipping
    rule might act for some point of the task (AC power at 0 or the inverter limit, sky diffuse
    below 0) are left out of the sums and simulated per point exactly as :func:`simulate_chunk`.
    The result equals :func:`simulate_chunk`'s to rounding.

    Parameters
    ----------
    cos_zen .. wind_fac : hour arrays as :func:`simulate_chunk`, sorted; ``wind_fac`` (2, n_hours).
    seg_start : (n_sectors + 1,) first sorted hour of each sector.
    bucket_start, bucket_e0_deg : (n_sectors, n_buckets) first sorted hour of each sector with elevation
        >= ``bucket_e0_deg + i * _BUCKET_DEG``: where each point's search for its horizon starts (a short
        forward scan instead of a binary search).
    cos_tilt .. mount_idx : per group; ``ground_open`` = albedo (1 - cos tilt) / 2 x the rows' ground
        view; ``row_sky``, ``row_band`` : the rows' sky view and horizon-band share (1 without rows);
        ``inv_gcr`` = 1 / gcr of racked rows, 0 without rows; ``mount_idx`` 0 rack, 1 flush.
    task_group, task_start, task_stop : (n_tasks,) int64.
    horizon_deg : (n_points, n_sectors) float32 [deg]. sky_view, band_open : (n_points,) [0-1].
    out_ac_per_kwp : (n_points,) annual AC energy per kWp [kWh/kWp]. out_poa_kwh_m2 : (n_points,)
    [kWh/m2]. out_risky_hours : (n_tasks,) the hours simulated per point in each task.
    """
    n_hours = cos_zen.shape[0]
    n_s = seg_start.shape[0] - 1
    n_tab = iam_table.shape[0] - 1
    for t in prange(task_group.shape[0]):
        g = task_group[t]
        p_a = task_start[t]
        p_b = task_stop[t]
        ct = cos_tilt[g]
        st = sin_tilt[g]
        ca = cos_az[g]
        sa = sin_az[g]
        gnd = ground_open[g]
        rsky = row_sky[g]
        rband = row_band[g]
        i_sky = iam_sky[g]
        i_hor = iam_hor[g]
        i_gnd = iam_gnd[g]
        igcr = inv_gcr[g]
        m_idx = mount_idx[g]
        iso_tilt = 1.0 + ct
        s_lo = 1.0
        s_hi = 0.0
        b_lo = 1.0
        b_hi = 0.0
        for c in range(p_a, p_b):
            s_lo = min(s_lo, sky_view[c])
            s_hi = max(s_hi, sky_view[c])
            b_lo = min(b_lo, band_open[c])
            b_hi = max(b_hi, band_open[c])
        # no horizon band on the plane (horizontal) or hidden by the rows: AC power is a polynomial in s alone
        n_col = 6 if rband * st == 0.0 else _N_COL
        # per hour: visible-minus-hidden coefficients; the hidden state summed over the safe hours
        delta = np.zeros((n_hours + n_s, _N_COL))
        total = np.zeros(_N_COL)
        tot_p1 = 0.0
        tot_p2 = 0.0
        vis = np.empty(_N_AC)
        hid = np.empty(_N_AC)
        dsc = np.empty(6)
        # risky hours: index and the orientation's parts, for the exact loop per point
        r_h = np.empty(n_hours, dtype=np.int64)
        r_k = np.empty(n_hours, dtype=np.int64)
        r_par = np.empty((n_hours, 7))
        n_r = 0
        for k in range(n_s):
            for h in range(seg_start[k], seg_start[k + 1]):
                cz = cos_zen[h]
                cos_aoi, proj = _cos_aoi(ct, st, cz, sun_x[h], sun_y[h], sa, ca)
                beam0 = dni[h] * proj
                keep_row = _row_keep(cz, cos_aoi, proj, igcr)
                iso, circ, hor = _perez_parts(d_iso[h], d_circ[h], d_hor[h], iso_tilt, proj, st)
                iam = _iam_at(proj, iam_table, n_tab)
                a_iso = iso * rsky  # x s
                a_gnd = ghi[h] * gnd  # x s
                a_hor = hor * rband  # x b
                bv = beam0 * keep_row
                cv = circ * keep_row
                e1 = a_iso * i_sky + a_gnd * i_gnd
                e2 = a_hor * i_hor
                p1 = a_iso + a_gnd
                ta = t_air_c[h]
                wf = wind_fac[m_idx, h]
                ok = _hour_state_poly((bv + cv) * iam, e1, e2, bv + cv, p1, a_hor, cv, a_iso, a_hor, ta, wf,
                                      s_lo, s_hi, b_lo, b_hi, gamma_pdc_per_c, loss_keep_frac, dc_ac_ratio,
                                      eta_ratio, pac0_per_kwp, dsc, vis)
                if ok:
                    ok = _hour_state_poly(0.0, e1, e2, 0.0, p1, a_hor, 0.0, a_iso, a_hor, ta, wf,
                                          s_lo, s_hi, b_lo, b_hi, gamma_pdc_per_c, loss_keep_frac, dc_ac_ratio,
                                          eta_ratio, pac0_per_kwp, dsc, hid)
                if ok:
                    row = h + k
                    delta[row, 0] = bv + cv
                    for j in range(_N_AC):
                        delta[row, j + 1] = vis[j] - hid[j]
                        total[j + 1] += hid[j]
                    tot_p1 += p1
                    tot_p2 += a_hor
                else:
                    r_h[n_r] = h
                    r_k[n_r] = k
                    r_par[n_r, 0] = bv
                    r_par[n_r, 1] = cv
                    r_par[n_r, 2] = a_iso
                    r_par[n_r, 3] = a_gnd
                    r_par[n_r, 4] = a_hor
                    r_par[n_r, 5] = iam
                    r_par[n_r, 6] = wf
                    n_r += 1
        out_risky_hours[t] = n_r
        # suffix sums per sector: row j + k holds the hours j.. of sector k (row end + k stays 0)
        for k in range(n_s):
            for j in range(seg_start[k + 1] - 1, seg_start[k] - 1, -1):
                for col in range(n_col):
                    delta[j + k, col] += delta[j + 1 + k, col]
        n_bkt = bucket_start.shape[1]
        inv_bkt = 1.0 / _BUCKET_DEG
        acc = np.empty(_N_COL)
        sp = np.empty(5)
        bp = np.empty(5)
        for c in range(p_a, p_b):
            for col in range(n_col):
                acc[col] = total[col]
            for k in range(n_s):
                b = seg_start[k + 1]
                hz = horizon_deg[c, k]
                # first hour with elevation >= hz (the sun above the horizon): start a bucket below
                xb = (hz - bucket_e0_deg) * inv_bkt
                jb = 0
                if xb >= 1.0:
                    jb = int(xb) - 1
                    if jb >= n_bkt:
                        jb = n_bkt - 1
                lo = bucket_start[k, jb]
                while lo < b and sun_elev_deg[lo] < hz:
                    lo += 1
                row = lo + k
                for col in range(n_col):
                    acc[col] += delta[row, col]
            s = sky_view[c]
            bb = band_open[c]
            # the summed polynomial at (s, b): powers of s and b up to 4
            sp[0] = 1.0
            bp[0] = 1.0
            for j in range(1, 5):
                sp[j] = sp[j - 1] * s
                bp[j] = bp[j - 1] * bb
            ac = 0.0
            for j in range(n_col - 1):
                ac += acc[j + 1] * sp[_MONO_I[j]] * bp[_MONO_J[j]]
            poa = acc[0] + tot_p1 * s + tot_p2 * bb
            # the risky hours exactly as simulate_chunk
            for r in range(n_r):
                h = r_h[r]
                keep = 0.0 if horizon_deg[c, r_k[r]] > sun_elev_deg[h] else 1.0
                beam = r_par[r, 0] * keep
                s_circ = r_par[r, 1] * keep
                s_iso = r_par[r, 2] * s
                s_hor = r_par[r, 4] * bb
                iam = r_par[r, 5]
                sky = s_iso + s_circ + s_hor
                if sky < 0.0:
                    sky = 0.0
                    sky_eff = 0.0
                else:
                    sky_eff = s_iso * i_sky + s_circ * iam + s_hor * i_hor
                ground = r_par[r, 3] * s
                p = beam + sky + ground
                eff = beam * iam + sky_eff + ground * i_gnd
                ac += _ac_per_kwp(eff, p, t_air_c[h], r_par[r, 6], gamma_pdc_per_c, loss_keep_frac,
                                  dc_ac_ratio, eta_ratio, pac0_per_kwp)
                poa += p
            out_ac_per_kwp[c] = ac
            out_poa_kwh_m2[c] = poa * 0.001
