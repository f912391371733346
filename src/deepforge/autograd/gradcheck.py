"""``gradcheck`` / ``gradgradcheck`` with PyTorch's contract (float64, central differences).

Numerical differences are taken on the inputs' own device: each perturbation writes into
the input tensor in place and re-runs the function.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,) if not isinstance(x, list) else tuple(x)


def _diff_inputs(inputs):
    from ..tensor import Tensor

    return [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _outputs(fn, inputs):
    from ..tensor import Tensor

    out = _as_tuple(fn(*inputs))
    return [
        o
        for o in out
        if isinstance(o, Tensor) and (o.dtype.is_floating_point or o.dtype.is_complex)
    ]


def _flat_host(t):
    return t.detach().cpu().numpy().astype(np.float64).reshape(-1)


def _numerical_jacobian(fn, inputs, eps):
    """J[k][j] = d out_j / d input_k, shape (in_numel, out_numel), by central differences."""
    from ..autograd.grad_mode import no_grad

    jac = []
    with no_grad():
        outs0 = _outputs(fn, inputs)
        out_sizes = [o.numel() for o in outs0]
        for _, t in _diff_inputs(inputs):
            n = t.numel()
            J = np.zeros((n, sum(out_sizes)))
            flat = t.detach()
            host = flat.cpu().numpy().reshape(-1).copy() if t.numel() else np.zeros(0)
            for k in range(n):
                orig = host[k]
                _set_elem(flat, k, orig + eps)
                plus = (
                    np.concatenate([_flat_host(o) for o in _outputs(fn, inputs)])
                    if out_sizes
                    else np.zeros(0)
                )
                _set_elem(flat, k, orig - eps)
                minus = (
                    np.concatenate([_flat_host(o) for o in _outputs(fn, inputs)])
                    if out_sizes
                    else np.zeros(0)
                )
                _set_elem(flat, k, orig)
                J[k] = (plus - minus) / (2 * eps)
            jac.append(J)
    return jac, outs0


def _set_elem(t, k, value):
    """Write one element of ``t`` (any strides, any device) in place."""
    idx = np.unravel_index(k, t.shape) if t.ndim else ()
    t[tuple(int(i) for i in idx)] = float(value)


def _analytical_jacobian(fn, inputs, outs_ref, nondet_tol):
    from ..autograd import grad
    from ..ops.creation import zeros_like

    diff = _diff_inputs(inputs)
    outs = _outputs(fn, inputs)
    sizes = [o.numel() for o in outs]
    total = sum(sizes)
    jac = [np.zeros((t.numel(), total)) for _, t in diff]
    col = 0
    for o in outs:
        for j in range(o.numel()):
            g = zeros_like(o)
            idx = np.unravel_index(j, o.shape) if o.ndim else ()
            g[tuple(int(i) for i in idx)] = 1.0
            if not o.requires_grad:
                col += 1
                continue
            gs = grad([o], [t for _, t in diff], [g], retain_graph=True, allow_unused=True)
            gs2 = grad([o], [t for _, t in diff], [g], retain_graph=True, allow_unused=True)
            for k, ((_, t), gk, gk2) in enumerate(zip(diff, gs, gs2)):
                if gk is None:
                    continue
                _check_grad_meta(t, gk, k)
                a = _flat_host(gk)
                b = _flat_host(gk2)
                if not np.allclose(a, b, atol=nondet_tol, rtol=0):
                    raise GradcheckError(
                        "Backward is not reentrant, i.e., running backward with same input and "
                        "grad_output multiple times gives different values, although analytical "
                        "gradient matches numerical gradient. The tolerance for nondeterminism "
                        f"was {nondet_tol}."
                    )
                jac[k][:, col] = a
            col += 1
    return jac


def _check_grad_meta(t, g, k):
    if g.shape != t.shape:
        raise GradcheckError(
            f"Gradient has incorrect shape for input {k}: got {list(g.shape)}, expected "
            f"{list(t.shape)}"
        )
    if g.dtype != t.dtype:
        raise GradcheckError(
            f"Gradient has dtype mismatch for input {k}: got {g.dtype}, expected {t.dtype}"
        )
    if g.device != t.device:
        raise GradcheckError(
            f"Gradient has device mismatch for input {k}: got {g.device}, expected {t.device}"
        )


def _check_inputs(inputs):
    from ..tensor import Tensor

    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of the "
            "them have requires_grad=True."
        )
    for i, t in diff:
        if t.dtype.name != "float64":
            raise GradcheckError(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "gradcheck needs float64 inputs for its tolerances (eps=1e-6): pass inputs created "
                "with dtype=deepforge.float64 or convert them with .double()."
            )
    return [t for t in inputs if isinstance(t, Tensor)]


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked=None,
) -> bool:
    """Compare analytical gradients with central finite differences; True when they agree."""
    inputs = _as_tuple(inputs)
    try:
        _check_inputs(inputs)
        if fast_mode:
            _fast_check(func, inputs, eps, atol, rtol, nondet_tol)
            return True
        num, outs = _numerical_jacobian(func, inputs, eps)
        ana = _analytical_jacobian(func, inputs, outs, nondet_tol)
        for (i, t), n, a in zip(_diff_inputs(inputs), num, ana):
            if not np.allclose(a, n, rtol=rtol, atol=atol, equal_nan=False):
                raise GradcheckError(
                    f"Jacobian mismatch for output 0 with respect to input {i},\n"
                    f"numerical:{_fmt(n)}\nanalytical:{_fmt(a)}\n"
                    f"input {i} (shape {list(t.shape)}):\n{t.detach().cpu().numpy()}\n"
                    f"max abs difference: {np.max(np.abs(a - n)) if a.size else 0.0}"
                )
        return True
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _fmt(m):
    return "\n" + np.array2string(m, precision=6, suppress_small=True, max_line_width=120)


def _fast_check(func, inputs, eps, atol, rtol, nondet_tol):
    """u^T J v for random u, v: one backward and two forward passes per input."""
    from ..autograd import grad
    from ..autograd.grad_mode import no_grad
    from ..ops.creation import tensor

    rng = np.random.default_rng(0)
    diff = _diff_inputs(inputs)
    outs = _outputs(func, inputs)
    us = [tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device) for o in outs]
    vs = [rng.standard_normal(t.numel()) for _, t in diff]
    rg = [o for o in outs if o.requires_grad]
    ana_grads = (
        grad(
            rg,
            [t for _, t in diff],
            [u for o, u in zip(outs, us) if o.requires_grad],
            allow_unused=True,
        )
        if rg
        else [None] * len(diff)
    )
    for k, ((i, t), v) in enumerate(zip(diff, vs)):
        g = ana_grads[k]
        ana = float(_flat_host(g) @ v) if g is not None else 0.0
        with no_grad():
            base = t.detach().cpu().numpy().copy()
            vt = v.reshape(t.shape)
            t.detach().copy_(tensor(base + eps * vt, dtype=t.dtype, device=t.device))
            plus = sum(
                float(_flat_host(o) @ _flat_host(u)) for o, u in zip(_outputs(func, inputs), us)
            )
            t.detach().copy_(tensor(base - eps * vt, dtype=t.dtype, device=t.device))
            minus = sum(
                float(_flat_host(o) @ _flat_host(u)) for o, u in zip(_outputs(func, inputs), us)
            )
            t.detach().copy_(tensor(base, dtype=t.dtype, device=t.device))
        num = (plus - minus) / (2 * eps)
        if not abs(ana - num) <= atol + rtol * abs(num):
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {i} (fast mode: u^T J v),\n"
                f"numerical:{num}\nanalytical:{ana}\n"
            )


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    fast_mode: bool = False,
    masked=None,
) -> bool:
    """gradcheck of the function (inputs, grad_outputs) -> gradients of func's outputs."""
    from ..autograd import grad
    from ..ops.creation import tensor

    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = tuple(
            tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device, requires_grad=True)
            for o in outs
        )
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, _ in _diff_inputs(inputs)]

    def first_grads(*args):
        from .grad_mode import enable_grad

        ins, gos = args[:n_in], args[n_in:]
        with enable_grad():  # the numerical pass calls this under no_grad
            os_ = _outputs(func, ins)
            gs = grad(os_, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(
        first_grads,
        inputs + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        fast_mode=fast_mode,
    )
