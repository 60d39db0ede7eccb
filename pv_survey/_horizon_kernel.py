"""numba kernels of :mod:`pv_survey.shading` (private).

Three kernels:

* :func:`build_pyramid_level` -- one level of the max-pyramid (2 x 2 max of the level below, with the
  owner of the maximum, or ``MIXED_OWNER`` when several owners reach it).
* :func:`horizon_tangents` -- the horizon of many observers in many azimuths, by a hierarchical
  grid traversal of the max-pyramid (the quadtree "max-mipmap" ray march used for height-field
  ray tracing, e.g. Tevs, Ihrke & Seidel 2008, "Maximum mipmaps for fast, accurate, and scalable
  dynamic height field rendering"). See :func:`pv_survey.shading.horizon_at_points` for the step
  rule and its error bound.
* :func:`aggregate_roofs` -- per-roof quantile profiles and mean sky-view factor.
* :func:`sky_view_rows` -- the sky-view factor of many horizon profiles (numpy's numbers to the bit).

Arrays are indexed ``[row, col]``; positions along a ray are in metres (``t``); cell coordinates
are fractional column / row numbers of the level-0 grid.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Owner code in coarse pyramid levels when the block maximum is reached by cells of several owners.
MIXED_OWNER = -2


@njit(cache=True, inline="always")
def _max_with_owner(v, o, best, best_own):  # pragma: no cover - compiled
    """(max, its owner) after one more cell; ``MIXED_OWNER`` when another owner ties the maximum."""
    if v > best:
        return v, o
    if v == best and o != best_own:
        return best, np.int32(MIXED_OWNER)
    return best, best_own


@njit(nogil=True, parallel=True, cache=True)
def build_pyramid_level(h, own, out_h, out_own):  # pragma: no cover - compiled
    """Fill ``out_h`` / ``out_own`` (level L+1) from ``h`` / ``own`` (level L) by 2 x 2 maxima.

    On an odd last row or column the block's missing cells repeat its present ones (a cell seen
    twice changes neither the maximum nor its owner), so no cell needs a bounds test.
    """
    n_rows, n_cols = h.shape
    for i in prange(out_h.shape[0]):
        i0 = 2 * i
        i1 = min(i0 + 1, n_rows - 1)
        for j in range(out_h.shape[1]):
            j0 = 2 * j
            j1 = min(j0 + 1, n_cols - 1)
            best, best_own = h[i0, j0], own[i0, j0]
            best, best_own = _max_with_owner(h[i0, j1], own[i0, j1], best, best_own)
            best, best_own = _max_with_owner(h[i1, j0], own[i1, j0], best, best_own)
            best, best_own = _max_with_owner(h[i1, j1], own[i1, j1], best, best_own)
            out_h[i, j] = best
            out_own[i, j] = best_own


@njit(nogil=True, parallel=True, cache=True)
def burn_lookup(index, heights, ids, out_h):  # pragma: no cover - compiled
    """Heights and owners from a raster of building positions (-1 = none), in one pass.

    ``out_h[r, c] = heights[index[r, c]]`` (0 where none); ``index`` is overwritten in place with
    ``ids[index[r, c]]`` (-1 where none).
    """
    for r in prange(index.shape[0]):
        for c in range(index.shape[1]):
            k = index[r, c]
            if k >= 0:
                out_h[r, c] = heights[k]
                index[r, c] = ids[k]
            else:
                out_h[r, c] = 0.0
                index[r, c] = -1


@njit(nogil=True, cache=True)
def owner_max_heights(h, own, n_owners):  # pragma: no cover - compiled
    """Highest cell of each owner 0..n_owners-1 (-inf for owners without cells)."""
    out = np.full(n_owners, -np.inf)
    for r in range(h.shape[0]):
        for c in range(h.shape[1]):
            o = own[r, c]
            if 0 <= o < n_owners and h[r, c] > out[o]:
                out[o] = h[r, c]
    return out


@njit(cache=True, inline="always")
def _height_at(level, bc, br, pyr_h, lv_off, lv_cols):  # pragma: no cover - compiled
    # one flat array for all levels, level 0 included: no branch on the level (a data-dependent
    # branch here cost about a third of the run time)
    return pyr_h[lv_off[level] + br * lv_cols[level] + bc]


@njit(cache=True, inline="always")
def _owner_at(level, bc, br, own0, pyr_own, own_off, lv_cols):  # pragma: no cover - compiled
    if level == 0:
        return own0[br, bc]
    return pyr_own[own_off[level] + br * lv_cols[level] + bc]


@njit(nogil=True, cache=True)
def _block_max_excluding(h0, own0, bc, br, size, excl):  # pragma: no cover - compiled
    """Maximum of the level-0 cells of one block whose owner is not ``excl``."""
    n_rows, n_cols = h0.shape
    best = -np.inf
    r_hi = min((br + 1) * size, n_rows)
    c_hi = min((bc + 1) * size, n_cols)
    for r in range(br * size, r_hi):
        for c in range(bc * size, c_hi):
            if own0[r, c] != excl and h0[r, c] > best:
                best = h0[r, c]
    return best


@njit(nogil=True, cache=True, error_model="numpy")
def _ray_tangent(c0, r0, z, excl, dc, dr, radius_m, h0, own0, pyr_h, pyr_own,
                 lv_off, own_off, lv_cols, top_level, acc_threshold_m, global_max, max_climb):  # pragma: no cover
    """Largest tan(elevation) seen from (c0, r0, z) along one ray; 0 when nothing is above the observer.

    ``dc``, ``dr``: cells per metre along the ray (column and row). The observer's own level-0
    cell is skipped (and a cell entered at distance 0, when the observer is on its edge); blocks
    are entered at their entry distance ``t`` (exact for level 0).
    ``max_climb``: pyramid levels climbed at most per step (a tuning knob; any value is exact).
    """
    n_rows, n_cols = h0.shape
    inv_dc = 1.0 / dc if dc != 0.0 else 0.0
    inv_dr = 1.0 / dr if dr != 0.0 else 0.0
    step_c = 1 if dc > 0.0 else -1
    step_r = 1 if dr > 0.0 else -1
    best = 0.0
    ic = int(math.floor(c0))
    ir = int(math.floor(r0))
    # leave the observer's own cell without looking at it
    tc = ((ic + 1) - c0) * inv_dc if dc > 0.0 else ((ic - c0) * inv_dc if dc < 0.0 else np.inf)
    tr = ((ir + 1) - r0) * inv_dr if dr > 0.0 else ((ir - r0) * inv_dr if dr < 0.0 else np.inf)
    if tc <= tr:
        t = tc
        ic += step_c
        if tc == tr:
            ir += step_r
    else:
        t = tr
        ir += step_r
    level = top_level
    acc_level = 0
    while t < radius_m:
        if ic < 0 or ir < 0 or ic >= n_cols or ir >= n_rows:
            break
        if global_max - z <= best * t:
            break  # nothing in the raster can raise the horizon any more
        while acc_level < top_level and acc_threshold_m[acc_level + 1] <= t:
            acc_level += 1
        if t <= 0.0:
            # an observer exactly on a cell edge also stands in the cell beyond it: skip that cell too
            level = 0
            skip = True
        else:
            # coarsest block that can be stepped over, or refine down to the accuracy level
            while True:
                m = _height_at(level, ic >> level, ir >> level, pyr_h, lv_off, lv_cols)
                if m - z <= best * t:
                    skip = True
                    break
                if level <= acc_level:
                    skip = False
                    break
                level -= 1
        bc = ic >> level
        br = ir >> level
        size = 1 << level
        if not skip:
            if excl >= 0 and _owner_at(level, bc, br, own0, pyr_own, own_off, lv_cols) == excl:
                m = -np.inf if level == 0 else _block_max_excluding(h0, own0, bc, br, size, excl)
            if m - z > best * t:
                best = (m - z) / t
        # distance at which the ray leaves this block
        tc = ((bc + 1) * size - c0) * inv_dc if dc > 0.0 else ((bc * size - c0) * inv_dc if dc < 0.0 else np.inf)
        tr = ((br + 1) * size - r0) * inv_dr if dr > 0.0 else ((br * size - r0) * inv_dr if dr < 0.0 else np.inf)
        # step into the next block (indices advance exactly on the exit axis; the other is clamped)
        old_ic = ic
        old_ir = ir
        if tc <= tr:
            t_exit = tc
            ic = (bc + 1) * size if dc > 0.0 else bc * size - 1
            if tc == tr:
                ir = (br + 1) * size if dr > 0.0 else br * size - 1
            else:
                ir = min(max(int(math.floor(r0 + t_exit * dr)), br * size), br * size + size - 1)
        else:
            t_exit = tr
            ir = (br + 1) * size if dr > 0.0 else br * size - 1
            ic = min(max(int(math.floor(c0 + t_exit * dc)), bc * size), bc * size + size - 1)
        if t_exit > t:
            t = t_exit
        # climb while the step crossed into a new parent block (it has not been tested yet)
        climbed = 0
        while climbed < max_climb and level < top_level and (
            (ic >> (level + 1)) != (old_ic >> (level + 1)) or (ir >> (level + 1)) != (old_ir >> (level + 1))
        ):
            level += 1
            climbed += 1
    return best


@njit(nogil=True, parallel=True, cache=True)
def horizon_tangents(col, row, z, excl, sin_az, cos_az, inv_a_m, inv_e_m, radius_m, h0, own0,
                     pyr_h, pyr_own, lv_off, own_off, lv_cols, top_level, acc_threshold_m,
                     global_max, max_climb, out):  # pragma: no cover - compiled
    """Fill ``out[i, k]`` with the horizon elevation [deg] of observer i in azimuth k.

    ``col``/``row``: fractional level-0 cell coordinates; ``inv_a_m`` = 1 / pixel width (columns per
    metre east), ``inv_e_m`` = 1 / signed pixel height (rows per metre north, negative for north-up).
    """
    n_sec = sin_az.shape[0]
    for i in prange(col.shape[0]):
        for k in range(n_sec):
            dc = sin_az[k] * inv_a_m
            dr = cos_az[k] * inv_e_m
            tan_h = _ray_tangent(col[i], row[i], z[i], excl[i], dc, dr, radius_m, h0, own0, pyr_h,
                                 pyr_own, lv_off, own_off, lv_cols, top_level, acc_threshold_m, global_max,
                                 max_climb)
            out[i, k] = np.float32(math.degrees(math.atan(tan_h)))


@njit(nogil=True, parallel=True, cache=True)
def aggregate_roofs(horizon_deg, svf, start, stop, levels, out_h, out_svf):  # pragma: no cover - compiled
    """Per roof j (points ``start[j]:stop[j]``): quantile profile and mean sky-view factor.

    The quantile at level q of n sorted values is the value of rank ``min(floor(q n), n - 1)``
    (the empirical quantile function at mid-levels). Roofs without points get NaN.
    """
    n_sec = horizon_deg.shape[1]
    n_q = levels.shape[0]
    for j in prange(start.shape[0]):
        a = start[j]
        b = stop[j]
        n = b - a
        if n <= 0:
            out_svf[j] = np.nan
            for q in range(n_q):
                for k in range(n_sec):
                    out_h[j, q, k] = np.nan
            continue
        acc = 0.0
        for p in range(a, b):
            acc += svf[p]
        out_svf[j] = acc / n
        buf = np.empty(n, dtype=np.float32)
        for k in range(n_sec):
            # insertion sort: a roof has at most a few dozen points
            for p in range(n):
                v = horizon_deg[a + p, k]
                q = p - 1
                while q >= 0 and buf[q] > v:
                    buf[q + 1] = buf[q]
                    q -= 1
                buf[q + 1] = v
            for q in range(n_q):
                rank = min(int(math.floor(levels[q] * n)), n - 1)
                out_h[j, q, k] = buf[rank]


#: Longest row :func:`sky_view_rows` sums like numpy: numpy's pairwise summation adds up to this
#: many numbers in eight running sums (``PW_BLOCKSIZE`` in numpy/_core/src/umath/loops_utils.h.src)
#: and splits longer rows in halves.
PAIRWISE_BLOCK = 128


@njit(nogil=True, parallel=True, cache=True)
def sky_view_rows(h, out):  # pragma: no cover - compiled
    """``out[i] = mean_k cos^2(radians(clip(h[i, k], 0, 90)))`` for rows of at most
    :data:`PAIRWISE_BLOCK` sectors, summed in numpy's pairwise order (eight running sums, combined
    as numpy does), so the result equals ``numpy.mean(numpy.cos(...) ** 2, axis=-1)`` to the bit.
    Sectors at exactly 0 deg add exactly 1 without a cosine (most of a city's horizon is open)."""
    n = h.shape[1]
    m = n - n % 8 if n >= 8 else 0
    for i in prange(h.shape[0]):
        r = np.zeros(8)
        for j in range(0, m, 8):
            for k in range(8):
                r[k] += _cos2(h[i, j + k])
        s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])) if m else 0.0
        for j in range(m, n):
            s += _cos2(h[i, j])
        out[i] = s / n


@njit(cache=True, inline="always")
def _cos2(v):  # pragma: no cover - compiled
    x = np.float64(v)
    if x == 0.0:
        return 1.0
    if x < 0.0:  # clip to [0, 90]; NaN passes through, as numpy.clip
        return 1.0
    if x > 90.0:
        x = 90.0
    c = math.cos(x * (math.pi / 180.0))
    return c * c
