"""Tests generated from the op-spec table (tests/op_specs.py), for every op and device:

forward vs numpy (each listed dtype), forward and gradients vs torch (when installed),
float64 gradcheck / gradgradcheck (broadcast, 0-size and 0-dim shapes included), and
non-contiguous inputs giving the same values and gradients as contiguous ones.
"""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest
from op_spec_lib import SAME, Arg, sample
from op_specs import SPECS

import deepforge as df

TOL = {"float16": (4e-3, 2e-3), "float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _params(kind):
    out = []
    for s in SPECS:
        if kind == "dtype":
            out += [pytest.param(s, d, id=f"{s.name}-{d}") for d in s.dtypes]
        elif kind == "grad" and s.grad and s.grad_shapes:
            out.append(pytest.param(s, id=s.name))
        elif kind == "gradgrad" and s.gradgrad and s.grad and _gg_shapes(s):
            out.append(pytest.param(s, id=s.name))
        elif kind == "noncontig" and s.noncontig:
            out.append(pytest.param(s, id=s.name))
    return out


def _gg_shapes(spec):
    return [s for s in spec.grad_shapes if max(math.prod(x) for x in s) <= 12][:3]


def make_arrays(spec, shapes, dtype, rng):
    arrays, diff = [], []
    for g, shape in zip(spec.gens, shapes):
        if isinstance(g, Arg):
            arrays.append(np.asarray(g.gen(rng, shape, shapes)))
            diff.append(False)
        else:
            arrays.append(sample(g, shape, dtype, rng))
            diff.append(np.dtype(dtype).kind == "f")
    return arrays, diff


def _tensor(a, device, requires_grad=False, noncontig=False):
    if noncontig and a.ndim >= 2:
        t = df.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), device=device).mT
    elif noncontig and a.ndim == 1:
        t = df.tensor(np.stack([a, a], -1), device=device)[..., 0]
    else:
        t = df.tensor(a, device=device)
    t = t.detach()
    if noncontig and a.ndim and sum(n > 1 for n in a.shape[-2:]) == min(a.ndim, 2):
        assert not t.is_contiguous()
    return t.requires_grad_() if requires_grad else t


def _ref_inputs(arrays):
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _flat(x)]
    return [out]


def _host(x):
    if isinstance(x, df.Tensor):
        return x.detach().cpu().numpy()
    if type(x).__module__.startswith("torch"):
        return x.detach().numpy()
    return np.asarray(x)


def _dtype_name(x) -> str:
    if isinstance(x, df.Tensor):
        return x.dtype.name
    return str(x.dtype).replace("torch.", "")


def assert_match(actual, expected, spec, what, dtype_check=False):
    acts, exps = _flat(actual), _flat(expected)
    assert len(acts) == len(exps), f"{what}: {len(acts)} outputs, expected {len(exps)}"
    for k, (a, e) in enumerate(zip(acts, exps)):
        if dtype_check and hasattr(e, "dtype"):
            assert _dtype_name(a) == _dtype_name(e), (
                f"{what} output {k}: dtype {_dtype_name(a)} != {_dtype_name(e)}"
            )
        ah, eh = _host(a), _host(e)
        assert ah.shape == eh.shape, f"{what} output {k}: shape {ah.shape} != {eh.shape}"
        kind = _dtype_name(a) if isinstance(a, df.Tensor) else "bool"
        rtol, atol = TOL.get(kind, (0, 0))
        if spec.rtol is not None and kind in TOL:
            rtol = max(rtol, spec.rtol)
        if spec.atol is not None and kind in TOL:
            atol = max(atol, spec.atol)
        np.testing.assert_allclose(
            ah.astype(np.float64),
            eh.astype(np.float64),
            rtol=rtol,
            atol=atol,
            equal_nan=True,
            err_msg=f"{what} output {k}",
        )


def _run_ref(spec, arrays):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.ref is SAME:
            return spec.op(np, *[a.copy() for a in _ref_inputs(arrays)])
        return spec.ref(*_ref_inputs(arrays))


def _call(spec, *tensors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return spec.op(df, *tensors)


@pytest.mark.parametrize("spec,dtype", _params("dtype"))
def test_forward_vs_numpy(spec, dtype, device):
    if spec.ref is None:
        pytest.skip("no numpy reference (compared with torch)")
    for shapes in spec.shapes:
        rng = _rng(spec.name, dtype, shapes)
        arrays, _ = make_arrays(spec, shapes, dtype, rng)
        xs = [_tensor(a, device) for a in arrays]
        what = f"{spec.name} {dtype} shapes={shapes}"
        out = _call(spec, *xs)
        assert_match(out, _run_ref(spec, arrays), spec, what)
        for a, x in zip(arrays, xs):  # a op leaves its inputs unchanged
            np.testing.assert_array_equal(_host(x), a, err_msg=f"{what}: input modified")


@pytest.mark.parametrize("spec,dtype", _params("dtype"))
def test_forward_and_grad_vs_torch(spec, dtype, device):
    torch = pytest.importorskip("torch")
    compared = 0
    for shapes in spec.shapes:
        rng = _rng(spec.name, dtype, shapes)
        arrays, diff = make_arrays(spec, shapes, dtype, rng)
        grad = spec.grad and dtype == "float64" and shapes in spec.grad_shapes
        tt = [torch.from_numpy(a.copy()).requires_grad_(grad and d) for a, d in zip(arrays, diff)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = (spec.torch_op or spec.op)(torch, *tt)
        except (RuntimeError, TypeError, ValueError, IndexError, NotImplementedError):
            continue  # torch does not support this case; numpy is the reference there
        xs = [_tensor(a, device, grad and d) for a, d in zip(arrays, diff)]
        what = f"{spec.name} {dtype} shapes={shapes} vs torch"
        out = _call(spec, *xs)
        assert_match(out, expected, spec, what, dtype_check=True)
        compared += 1
        if grad:
            _compare_grads(torch, out, expected, xs, tt, spec, what, rng)
    if not compared:
        pytest.skip(f"torch supports no case of {spec.name} in {dtype}")


def _float_outputs(out):
    return [
        o
        for o in _flat(out)
        if hasattr(o, "dtype") and o.dtype.is_floating_point and o.requires_grad
    ]


def _compare_grads(torch, out, expected, xs, tt, spec, what, rng):
    outs, exps = _float_outputs(out), _float_outputs(expected)
    assert len(outs) == len(exps), f"{what}: differentiable outputs differ"
    if not outs:
        return
    gos = [rng.standard_normal(tuple(o.shape)) for o in outs]
    ins = [x for x in xs if x.requires_grad]
    tins = [t for t in tt if t.requires_grad]
    g = df.autograd.grad(
        outs, ins, [df.tensor(go, device=o.device) for go, o in zip(gos, outs)], allow_unused=True
    )
    try:
        tg = torch.autograd.grad(
            exps, tins, [torch.from_numpy(go) for go in gos], allow_unused=True
        )
    except RuntimeError:  # torch has no derivative here ("not implemented")
        return
    for k, (a, e) in enumerate(zip(g, tg)):
        if e is None:
            assert a is None or not np.any(_host(a)), f"{what}: grad {k} should be zero/None"
            continue
        assert a is not None, f"{what}: grad of input {k} is None, torch's is not"
        assert_match(a, e, spec, f"{what} grad of input {k}", dtype_check=True)


def _grad_inputs(spec, shapes, device, noncontig=False):
    rng = _rng(spec.name, "grad", shapes)
    arrays, diff = make_arrays(spec, shapes, "float64", rng)
    return [_tensor(a, device, d, noncontig and d) for a, d in zip(arrays, diff)]


def _fn(spec):
    return lambda *xs: _call(spec, *xs)


@pytest.mark.parametrize("spec", _params("grad"))
def test_gradcheck(spec, device):
    for shapes in spec.grad_shapes:
        xs = _grad_inputs(spec, shapes, device)
        assert df.autograd.gradcheck(_fn(spec), xs), f"{spec.name} shapes={shapes}"


@pytest.mark.parametrize("spec", _params("gradgrad"))
def test_gradgradcheck(spec, device):
    for shapes in _gg_shapes(spec):
        xs = _grad_inputs(spec, shapes, device)
        assert df.autograd.gradgradcheck(_fn(spec), xs), f"{spec.name} shapes={shapes}"


@pytest.mark.parametrize("spec", _params("noncontig"))
def test_noncontiguous_inputs(spec, device):
    dtype = next((d for d in spec.dtypes if d in ("float64", "float32")), spec.dtypes[0])
    for shapes in spec.shapes:
        if all(len(s) == 0 for s in shapes):
            continue
        rng = _rng(spec.name, "nc", shapes)
        arrays, diff = make_arrays(spec, shapes, dtype, rng)
        grad = spec.grad and dtype.startswith("float")
        xs = [_tensor(a, device, grad and d) for a, d in zip(arrays, diff)]
        ys = [_tensor(a, device, grad and d, noncontig=True) for a, d in zip(arrays, diff)]
        what = f"{spec.name} shapes={shapes} non-contiguous"
        out_c, out_n = _call(spec, *xs), _call(spec, *ys)
        assert_match(out_n, out_c, spec, what, dtype_check=True)
        outs_c, outs_n = _float_outputs(out_c), _float_outputs(out_n)
        if grad and outs_c:
            gos = [
                df.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=device)
                for o in outs_c
            ]
            gc = df.autograd.grad(
                outs_c, [x for x in xs if x.requires_grad], gos, allow_unused=True
            )
            gn = df.autograd.grad(
                outs_n, [y for y in ys if y.requires_grad], gos, allow_unused=True
            )
            for a, b in zip(gn, gc):
                assert (a is None) == (b is None), what
                if a is not None:
                    assert_match(a, b, spec, f"{what} grad", dtype_check=True)
