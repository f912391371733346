"""Spatial transformers: ``affine_grid`` and ``grid_sample``.

Both are compositions of differentiable Tensor ops, so they run on every backend and give
gradients with respect to the input and the grid. ``grid_sample`` flattens the input's spatial
dimensions and, for each interpolation tap (4 for bilinear, 8 for trilinear, 16 for bicubic, 1
for nearest), gathers the tap's values and adds them with the tap's weight; taps that fall
outside the input are masked to zero. Coordinate handling (unnormalisation, border clipping,
reflection, NaN coordinates) follows PyTorch's CPU kernels (``GridSamplerKernel.cpp``)
so that values and gradients agree with it, including at the kinks.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import deepforge
from deepforge import Tensor

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_CORNERS_WARNING = (
    "Default grid_sample and affine_grid behavior has changed "
    "to align_corners=False since 1.3.0. Please specify "
    "align_corners=True if the old behavior is desired. "
    "See the documentation of grid_sample for details."
)

_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long"}

# coefficient of the cubic convolution kernel (Keys, 1981), the value PyTorch uses
_CUBIC_A = -0.75


def _scalar_name(dtype) -> str:
    name = str(dtype).replace("deepforge.", "")
    return _SCALAR_NAMES.get(name, name)


def _sizes(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


# -- affine_grid --------------------------------------------------------------------------------


def _base_coords(steps: int, align_corners: bool, like: Tensor) -> Tensor:
    """PyTorch's ``linspace_from_neg_one``: sample positions of ``steps`` pixels in [-1, 1]."""
    if steps <= 1:
        return deepforge.zeros(steps, dtype=like.dtype, device=like.device)
    r = deepforge.linspace(-1.0, 1.0, steps, dtype=like.dtype, device=like.device)
    if not align_corners:
        r = r * ((steps - 1) / steps)
    return r


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """Sampling grid ``(N, H, W, 2)`` or ``(N, D, H, W, 3)`` of the affine maps ``theta``."""
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
                f"Got {theta.shape}."
            )
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. "
                f"Got {theta.shape}."
            )
        spatial = size[-3:]
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n = size[0]
    if theta.shape[0] != n:
        raise RuntimeError(
            f"affine_grid: expected theta of batch size {n} for size {size}, "
            f"but got theta with sizes {_sizes(theta.shape)}"
        )
    # base grid (*spatial, ndim + 1) holding (x, y[, z], 1), x running along the last axis
    mesh = []
    for i, steps in enumerate(spatial):
        view = [1] * len(spatial)
        view[i] = steps
        mesh.append(_base_coords(steps, align_corners, theta).reshape(view).expand(*spatial))
    coords = list(reversed(mesh)) + [deepforge.ones_like(mesh[0])]
    base = deepforge.stack(coords, dim=-1).reshape(1, -1, len(coords))
    grid = deepforge.matmul(base, theta.transpose(1, 2))
    return grid.reshape(n, *spatial, len(spatial))


# -- coordinate handling ------------------------------------------------------------------------


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: Tensor, size: int) -> Tensor:
    """Clamp into [0, size - 1]; the borders themselves count as outside for the gradient."""
    inside = (coord > 0) & (coord < size - 1)
    # NaN clips to 0, as the max(x, 0) of PyTorch's vectorised CPU kernel
    clipped = deepforge.where(deepforge.isnan(coord.detach()), 0.0, coord.detach())
    return deepforge.where(inside, coord, clipped.clamp(0, size - 1))


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    if twice_low == twice_high:
        return coord * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    shifted = coord - low
    # |x| with gradient +1 at 0, as PyTorch's reflect_coordinates_set_grad
    sign = deepforge.where(shifted.detach() < 0, -1.0, 1.0).to(coord.dtype)
    dist = shifted * sign
    extra = deepforge.fmod(dist, span)
    flips = deepforge.floor(dist.detach() / span)
    even = deepforge.fmod(flips, 2) == 0
    return deepforge.where(even, extra + low, span - extra + low)


def _pad_coords(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    if padding_mode == "border":
        coord = _clip(coord, size)
    elif padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        coord = _clip(coord, size)
    return coord


# -- sampling -----------------------------------------------------------------------------------


def _tap(flat: Tensor, spatial: Sequence[int], positions: Sequence[Tensor]) -> Tensor:
    """Values of ``flat`` (N, C, P) at integer positions (each (N, Q), x first); 0 outside."""
    valid = None
    linear = None
    stride = 1
    for pos, size in zip(positions, reversed(spatial)):
        inside = (pos >= 0) & (pos <= size - 1)
        valid = inside if valid is None else valid & inside
        # NaN positions (from a NaN grid) are invalid too; index 0 in their place
        term = deepforge.where(inside, pos, 0.0).to(deepforge.int64) * stride
        linear = term if linear is None else linear + term
        stride *= size
    n, c, _ = flat.shape
    index = linear.unsqueeze(1).expand(n, c, linear.shape[-1])
    values = deepforge.gather(flat, 2, index)
    # where, not a product: an inf at the substituted index must not leak into outside taps
    return deepforge.where(valid.unsqueeze(1), values, 0.0)


def _sample_linear(flat, spatial, coords) -> Tensor:
    lows = [deepforge.floor(c.detach()) for c in coords]
    out = None
    for corner in itertools.product((0, 1), repeat=len(coords)):
        weight = None
        positions = []
        for bit, c, lo in zip(corner, coords, lows):
            w = (c - lo) if bit else (lo + 1 - c)
            weight = w if weight is None else weight * w
            positions.append(lo + bit)
        term = _tap(flat, spatial, positions) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out


def _sample_nearest(flat, spatial, coords) -> Tensor:
    # round half to even, as nearbyint; detached: nearest sampling has zero grid gradient
    positions = [deepforge.round(c.detach()) for c in coords]
    out = _tap(flat, spatial, positions)
    # keep the grid in the graph (never selected) so that grid.grad is zeros, as in PyTorch
    never = deepforge.zeros((1,), dtype=deepforge.bool, device=out.device)
    return deepforge.where(never, coords[0].unsqueeze(1).to(out.dtype), out)


def _cubic_weights(t: Tensor) -> list[Tensor]:
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _sample_bicubic(flat, spatial, coords, padding_mode, align_corners) -> Tensor:
    (x, y), (h, w) = coords, spatial
    x0, y0 = deepforge.floor(x.detach()), deepforge.floor(y.detach())
    wx, wy = _cubic_weights(x - x0), _cubic_weights(y - y0)
    xs = [_pad_coords(x0 + (k - 1), w, padding_mode, align_corners) for k in range(4)]
    ys = [_pad_coords(y0 + (k - 1), h, padding_mode, align_corners) for k in range(4)]
    out = None
    for j in range(4):
        row = None
        for i in range(4):
            # PyTorch truncates the padded tap coordinate to an int
            px, py = deepforge.trunc(xs[i]), deepforge.trunc(ys[j])
            term = _tap(flat, spatial, [px, py]) * wx[i].unsqueeze(1)
            row = term if row is None else row + term
        term = row * wy[j].unsqueeze(1)
        out = term if out is None else out + term
    return out


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    if input.device != grid.device:
        raise RuntimeError(
            "grid_sampler(): expected input and grid to be on same device, but input is on "
            f"{input.device} and grid is on {grid.device}"
        )
    if input.dtype != grid.dtype:
        raise RuntimeError(
            f"expected scalar type {_scalar_name(input.dtype)} but found {_scalar_name(grid.dtype)}"
        )
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {_sizes(input.shape)} and grid with sizes {_sizes(grid.shape)}"
        )
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, "
            f"but got grid with sizes {_sizes(grid.shape)}"
        )
    for i in range(2, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but "
                f"input has sizes {_sizes(input.shape)} with dimension {i} being empty"
            )
    want = 4 if input.dim() == 4 else 5
    if input.dim() != want or grid.dim() != input.dim():
        raise RuntimeError(
            f"grid_sampler(): expected {want}D input and grid with same number of dimensions, "
            f"but got input with sizes {_sizes(input.shape)} and grid with sizes "
            f"{_sizes(grid.shape)}"
        )
    if mode == "bicubic" and input.dim() != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.is_floating_point():
        kernel = f"grid_sampler_{input.dim() - 2}d_cpu_kernel_impl"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(input.dtype)}'")


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample ``input`` (N, C, [D,] H, W) at the normalised positions ``grid`` (x, y[, z])."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    _check_grid_sample(input, grid, mode)

    n, c = input.shape[0], input.shape[1]
    spatial = tuple(input.shape[2:])
    out_spatial = tuple(grid.shape[1:-1])
    q = math.prod(out_spatial)
    flat = input.reshape(n, c, math.prod(spatial))
    g = grid.reshape(n, q, len(spatial))
    # coordinate k of the grid indexes the k-th spatial axis counted from the last one
    sizes = list(reversed(spatial))
    raw = [_unnormalize(g[:, :, k], sizes[k], align_corners) for k in range(len(spatial))]
    if mode == "bicubic":
        out = _sample_bicubic(flat, spatial, raw, padding_mode, align_corners)
    else:
        coords = [_pad_coords(r, s, padding_mode, align_corners) for r, s in zip(raw, sizes)]
        if mode == "bilinear":
            out = _sample_linear(flat, spatial, coords)
        else:
            out = _sample_nearest(flat, spatial, coords)
    return out.reshape(n, c, *out_spatial)
