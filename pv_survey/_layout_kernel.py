"""numba kernel of :mod:`pv_survey.layout` (private): which module cells lie inside their roof.

:func:`cell_status` decides, for every candidate module cell of every roof, whether the cell lies
inside its roof's usable polygon (in the roof's own frame), with the answer of the shapely test it
replaces (:func:`pv_survey.layout._cells_inside`: ``contains_xy`` on the four corners, and
``contains`` of the whole cell on a non-convex polygon). It decides a cell only when the answer is
certain in floating point, and leaves the rest to that shapely test (:data:`UNSURE`):

* a cell that no edge of the polygon comes within ``sure_m`` of (no edge meets the cell grown by
  ``sure_m``) has one status throughout: the even-odd parity of its first corner over every ring
  (shells and holes of every part: the parity GEOS's ``RayCrossingCounter`` counts). Inside, it is
  in the polygon's interior: the corner answer on a convex polygon and ``contains`` on any other;
* a cell an edge comes near is outside when one of its corners is certainly outside (farther than
  ``sure_m`` from every edge, even parity); else (corners inside or on / next to the boundary,
  where ``contains_xy`` is False and rounding could flip the side) it is left open.

Rounding errors of the crossing and extent arithmetic are below 1e-12 m for coordinates of a few
kilometres (each polygon is in its own frame, starting at its bounding box), far below ``sure_m``
(:data:`pv_survey.layout.SURE_M`, 1e-8 m), so a decided cell is decided right.

The kernels run on one thread: a tile's cells take milliseconds, and a ``parallel=True`` launch
waited about 16 ms for its OpenMP threads when the two cores were shared with other work
(measured 2026-12-07, load average 6-8: the layout of a 20,000-building city's tiles took 2.4-2.8 s
with ``prange`` against 1.3-1.5 s without).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Status codes of :func:`cell_status`.
OUTSIDE, INSIDE, UNSURE = 0, 1, 2


@njit(cache=True, inline="always")
def _point_state(px, py, xy, ring_start, ring_len, rings, r0, r1, sure_m):  # pragma: no cover - compiled
    """1 inside, 0 outside (both certain), 2 within ``sure_m`` of an edge."""
    tol2 = sure_m * sure_m
    odd = False
    for k in range(r0, r1):
        ring = rings[k]
        s = ring_start[ring]
        for j in range(s, s + ring_len[ring] - 1):
            x1 = xy[j, 0]
            y1 = xy[j, 1]
            x2 = xy[j + 1, 0]
            y2 = xy[j + 1, 1]
            # near the edge? (distance from the point to the segment)
            if (px >= min(x1, x2) - sure_m and px <= max(x1, x2) + sure_m
                    and py >= min(y1, y2) - sure_m and py <= max(y1, y2) + sure_m):
                dx = x2 - x1
                dy = y2 - y1
                len2 = dx * dx + dy * dy
                t = 0.0
                if len2 > 0.0:
                    t = ((px - x1) * dx + (py - y1) * dy) / len2
                    t = min(max(t, 0.0), 1.0)
                ex = px - (x1 + t * dx)
                ey = py - (y1 + t * dy)
                if ex * ex + ey * ey <= tol2:
                    return 2
            # even-odd crossing of the ray towards +x (half-open in y)
            if (y1 > py) != (y2 > py):
                xint = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
                if px < xint:
                    odd = not odd
    return 1 if odd else 0


@njit(nogil=True, cache=True)
def cell_status(xy, ring_start, ring_len, rings, roof_ring_ptr, lb, nu, nv, pitch_u, pitch_v, along, depth,
                start, eps_m, sure_m, out):  # pragma: no cover - compiled
    """Status (:data:`OUTSIDE` / :data:`INSIDE` / :data:`UNSURE`) of every candidate cell.

    Roof ``i`` has ``nv[i]`` rows of ``nu[i]`` cells; cell (row, col) is candidate
    ``start[i] + row * nu[i] + col`` with corner ``u0 = lb[i, 0] + col * pitch_u``,
    ``v0 = lb[i, 1] + row * pitch_v[i]`` and tested as ``u0 + eps .. u0 + along - eps`` x
    ``v0 + eps .. v0 + depth[i] - eps`` (the arithmetic of the shapely path, operation for operation).
    Its rings are ``rings[roof_ring_ptr[i]:roof_ring_ptr[i + 1]]``, ring ``k`` being the closed
    coordinate run ``xy[ring_start[k]:ring_start[k] + ring_len[k]]``.

    Row by row: the edges crossing the row's band (with their x extent in it) and the crossings of
    the line through the cells' first corners are listed once. A cell no edge comes near has one
    status throughout: its first corner's parity. A cell an edge meets is outside when a corner is
    certainly outside, else left open.
    """
    for i in range(nu.shape[0]):
        if nu[i] == 0 or nv[i] == 0:
            continue
        r0 = roof_ring_ptr[i]
        r1 = roof_ring_ptr[i + 1]
        n_edges = 0
        for k in range(r0, r1):
            n_edges += max(ring_len[rings[k]] - 1, 0)
        edge = np.empty((n_edges, 4))
        m = 0
        for k in range(r0, r1):
            s = ring_start[rings[k]]
            for j in range(s, s + ring_len[rings[k]] - 1):
                edge[m, 0] = xy[j, 0]
                edge[m, 1] = xy[j, 1]
                edge[m, 2] = xy[j + 1, 0]
                edge[m, 3] = xy[j + 1, 1]
                m += 1
        lo = np.empty(n_edges)
        hi = np.empty(n_edges)
        xs = np.empty(n_edges)
        for row in range(nv[i]):
            v0 = lb[i, 1] + row * pitch_v[i]
            va = v0 + eps_m
            vb = v0 + depth[i] - eps_m
            b0 = va - sure_m
            b1 = vb + sure_m
            nb = 0
            nx = 0
            for e in range(n_edges):
                x1 = edge[e, 0]
                y1 = edge[e, 1]
                x2 = edge[e, 2]
                y2 = edge[e, 3]
                y_lo = min(y1, y2)
                y_hi = max(y1, y2)
                if (y1 > va) != (y2 > va):
                    xs[nx] = x1 + (va - y1) * (x2 - x1) / (y2 - y1)
                    nx += 1
                if y_hi < b0 or y_lo > b1:
                    continue
                dy = y2 - y1
                if dy == 0.0:
                    lo[nb] = min(x1, x2)
                    hi[nb] = max(x1, x2)
                else:
                    ta = min(max((max(b0, y_lo) - y1) / dy, 0.0), 1.0)
                    tb = min(max((min(b1, y_hi) - y1) / dy, 0.0), 1.0)
                    xa = x1 + ta * (x2 - x1)
                    xb = x1 + tb * (x2 - x1)
                    lo[nb] = min(xa, xb)
                    hi[nb] = max(xa, xb)
                nb += 1
            for col in range(nu[i]):
                u0 = lb[i, 0] + col * pitch_u
                ua = u0 + eps_m
                ub = u0 + along - eps_m
                c = start[i] + row * nu[i] + col
                clear = True
                for e in range(nb):
                    if not (hi[e] < ua - sure_m or lo[e] > ub + sure_m):
                        clear = False
                        break
                if clear:
                    odd = False
                    for e in range(nx):
                        if ua < xs[e]:
                            odd = not odd
                    out[c] = INSIDE if odd else OUTSIDE
                    continue
                st = _point_state(ua, va, xy, ring_start, ring_len, rings, r0, r1, sure_m)
                if st != 0:
                    st2 = _point_state(ub, va, xy, ring_start, ring_len, rings, r0, r1, sure_m)
                    st = 0 if st2 == 0 else st
                if st != 0:
                    st2 = _point_state(ub, vb, xy, ring_start, ring_len, rings, r0, r1, sure_m)
                    st = 0 if st2 == 0 else st
                if st != 0:
                    st2 = _point_state(ua, vb, xy, ring_start, ring_len, rings, r0, r1, sure_m)
                    st = 0 if st2 == 0 else st
                out[c] = OUTSIDE if st == 0 else UNSURE


@njit(nogil=True, cache=True)
def count_cells(status, start, total, out):  # pragma: no cover - compiled
    """Cells kept (status not :data:`OUTSIDE`) of each roof: ``status[start[i]:start[i] + total[i]]``."""
    for i in range(start.shape[0]):
        m = 0
        for c in range(start[i], start[i] + total[i]):
            if status[c] != OUTSIDE:
                m += 1
        out[i] = m


@njit(nogil=True, cache=True)
def decode_cells(status_a, start_a, nu_a, total_a, status_b, start_b, nu_b, total_b, use_a, first_out, row,
                 col):  # pragma: no cover - compiled
    """Row and column of every kept cell, roof by roof from grid ``a`` (``use_a``) or ``b``, written from
    ``first_out[i]`` on in candidate order (by row, then column)."""
    for i in range(start_a.shape[0]):
        pos = first_out[i]
        if use_a[i]:
            s, nu, total, status = start_a[i], nu_a[i], total_a[i], status_a
        else:
            s, nu, total, status = start_b[i], nu_b[i], total_b[i], status_b
        for kk in range(total):
            if status[s + kk] != OUTSIDE:
                row[pos] = kk // nu
                col[pos] = kk % nu
                pos += 1
