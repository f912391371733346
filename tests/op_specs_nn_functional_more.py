# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for nn functional more ops; same conventions as there.

``grid_sample`` has no numpy reference (``ref=None``): it is compared with torch. Its grids are
drawn from "unit" (|g| < 0.9) and the inputs are continuous, so gradcheck's finite differences
almost surely avoid the interpolation kinks; tests/test_nn_grid_ctc.py places grid points away
from them explicitly.
"""

from __future__ import annotations

import numpy as np
import op_refs as R  # noqa: F401
import op_spec_lib as L

C, F = L.C, L.F


def _affine_grid_ref(spatial, align_corners):
    def ref(theta):
        axes = []
        for steps in spatial:
            r = np.linspace(-1.0, 1.0, steps) if steps > 1 else np.zeros(1)
            axes.append(r if align_corners else r * (steps - 1) / steps)
        mesh = np.meshgrid(*axes, indexing="ij")
        base = np.stack(list(reversed(mesh)) + [np.ones_like(mesh[0])], axis=-1)
        grid = base.reshape(1, -1, base.shape[-1]) @ np.swapaxes(theta, 1, 2)
        return grid.reshape(theta.shape[0], *spatial, len(spatial)).astype(theta.dtype)

    return ref


def _affine_grid(spatial, align_corners):
    return lambda m, t: m.nn.functional.affine_grid(
        t, (t.shape[0], 1, *spatial), align_corners=align_corners
    )


def _grid_sample(mode, padding_mode, align_corners):
    return lambda m, x, g: m.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners)


GS4 = [((1, 2, 3, 4), (1, 2, 3, 2)), ((2, 1, 2, 3), (2, 1, 4, 2))]
GS5 = [((1, 1, 2, 3, 2), (1, 2, 1, 2, 3))]
UNIT = ("real", "unit")

SPECS: list = [
    C(
        "affine_grid_2d",
        _affine_grid((3, 4), False),
        _affine_grid_ref((3, 4), False),
        [(2, 2, 3), (1, 2, 3)],
    ),
    C(
        "affine_grid_2d_corners",
        _affine_grid((2, 3), True),
        _affine_grid_ref((2, 3), True),
        [(2, 2, 3)],
    ),
    C(
        "affine_grid_3d",
        _affine_grid((2, 1, 3), False),
        _affine_grid_ref((2, 1, 3), False),
        [(1, 3, 4)],
    ),
    C("grid_sample_bilinear_zeros", _grid_sample("bilinear", "zeros", False), None, GS4, UNIT),
    C("grid_sample_bilinear_border", _grid_sample("bilinear", "border", True), None, GS4, UNIT),
    C(
        "grid_sample_bilinear_reflection",
        _grid_sample("bilinear", "reflection", False),
        None,
        GS4,
        UNIT,
    ),
    C("grid_sample_nearest", _grid_sample("nearest", "zeros", False), None, GS4, UNIT),
    C("grid_sample_bicubic", _grid_sample("bicubic", "border", False), None, GS4[1:], UNIT),
    C("grid_sample_trilinear", _grid_sample("bilinear", "reflection", True), None, GS5, UNIT),
]
