"""Normalisation layers' functional forms: batch, layer, group, instance, RMS and local
response norm, written once as differentiable compositions (mean / var / rsqrt) that run on
every backend.

Where the backend has fused kernels (``batch_norm_train``/``batch_norm_backward``,
``layer_norm``/``layer_norm_backward``), the training batch norm and the layer norm (which
group and instance norm reuse) run as one forward pass and one backward pass; that backward is
once-differentiable, as in PyTorch's fused kernels (the reference path stays differentiable to
any order).
"""

from __future__ import annotations

import math

from ..autograd.function import Function, once_differentiable
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, make_tensor
from ._common import call
from ._fused import kernel
from .pooling import avg_pool2d, avg_pool3d
from .resample import pad

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
           "rms_norm"]


def _torch_size(shape) -> str:
    return f"torch.Size({list(shape)})"


def _data(t):
    return None if t is None else t._data


def _bshape(x: Tensor):
    """Shape that broadcasts a per-channel (C,) vector against x (N, C, *)."""
    return (1, -1) + (1,) * (x.ndim - 2)


# batch norm ---------------------------------------------------------------------------------------
class BatchNormFused(Function):
    """Training batch norm in one pass; outputs y and the batch mean / biased var."""

    @staticmethod
    def forward(ctx, x, w, b, eps):
        y, mean, invstd, var = kernel(x, "batch_norm_train")(x._data, _data(w), _data(b), eps)
        dev, d = x._device, x._dtype
        m, v = make_tensor(mean, d, dev), make_tensor(var, d, dev)
        ctx.save_for_backward(x, w, make_tensor(mean, d, dev), make_tensor(invstd, d, dev))
        ctx.mark_non_differentiable(m, v)
        return make_tensor(y, d, dev), m, v

    @staticmethod
    @once_differentiable
    def backward(ctx, g, _gm, _gv):
        x, w, mean, invstd = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx, gw, gb = kernel(x, "batch_norm_backward")(g._data, x._data, _data(w), mean._data,
                                                       invstd._data, True, nx)
        dev, d = x._device, x._dtype
        return (make_tensor(gx, d, dev) if nx else None, make_tensor(gw, d, dev) if nw else None,
                make_tensor(gb, d, dev) if nb else None, None)


def _batch_stats_reference(x, w, b, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(axes, keepdim=True)
    y = xc * (var + eps).rsqrt()
    if w is not None:
        y = y * w.reshape(_bshape(x))
    if b is not None:
        y = y + b.reshape(_bshape(x))
    return y, mean.reshape(-1).detach(), var.reshape(-1).detach()


def _check_stat(name, t, C):
    if t is not None and t.numel() != C:
        raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")


def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if input.ndim < 2:
        raise ValueError(f"expected 2D or higher input (got {input.ndim}D input)")
    C = input._data.shape[1]
    if training:
        n = input.numel() // C if C else 0
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {_torch_size(input.shape)}")
    _check_stat("running_mean", running_mean, C)
    _check_stat("running_var", running_var, C)
    _check_stat("weight", weight, C)
    _check_stat("bias", bias, C)
    if not training and running_mean is not None and running_var is not None:
        scale = (running_var + eps).rsqrt()
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale
        if bias is not None:
            shift = shift + bias
        return input * scale.reshape(_bshape(input)) + shift.reshape(_bshape(input))
    x = input
    fused = kernel(x, "batch_norm_train") is not None and x.numel() > 0 and \
        (w_ok(weight, x) and w_ok(bias, x))
    if fused:
        y, mean, var = call(BatchNormFused, x, weight, bias, float(eps))
    else:
        y, mean, var = _batch_stats_reference(x, weight, bias, eps)
    if training and running_mean is not None:
        _update_running(running_mean, running_var, mean, var, x.numel() // C, momentum)
    return y


def w_ok(t, x):
    return t is None or t._dtype is x._dtype


def _update_running(rm, rv, mean, var, n, momentum):
    """running = (1 - m) * running + m * batch stat (var unbiased), in place, no graph."""
    with no_grad():
        m = 0.0 if momentum is None else float(momentum)
        if rm is not None:
            rm.mul_(1 - m).add_(mean.to(rm.dtype) * m)
        if rv is not None:
            rv.mul_(1 - m).add_(var.to(rv.dtype) * (m * n / max(n - 1, 1)))


# layer norm ---------------------------------------------------------------------------------------
class LayerNormFused(Function):
    """Normalise the rows of x (M, D) with optional elementwise w, b (D,)."""

    @staticmethod
    def forward(ctx, x, w, b, eps):
        y, mean, rstd = kernel(x, "layer_norm")(x._data, _data(w), _data(b), eps)
        dev, d = x._device, x._dtype
        ctx.save_for_backward(x, w, make_tensor(mean, d, dev), make_tensor(rstd, d, dev))
        return make_tensor(y, d, dev)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x, w, mean, rstd = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx, gw, gb = kernel(x, "layer_norm_backward")(g._data, x._data, _data(w), mean._data,
                                                       rstd._data, nx, nw or nb)
        dev, d = x._device, x._dtype
        return (make_tensor(gx, d, dev) if nx else None, make_tensor(gw, d, dev) if nw else None,
                make_tensor(gb, d, dev) if nb else None, None)


def _norm_rows(x2: Tensor, w, b, eps) -> Tensor:
    """Layer norm of the rows of a 2-D tensor (fused where the backend has it)."""
    if kernel(x2, "layer_norm") is not None and w_ok(w, x2) and w_ok(b, x2) and x2.numel():
        return call(LayerNormFused, x2, w, b, float(eps))
    mean = x2.mean(-1, keepdim=True)
    xc = x2 - mean
    y = xc * ((xc * xc).mean(-1, keepdim=True) + eps).rsqrt()
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def _check_normalized(op, input, normalized_shape):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input._data.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*{''.join(', ' + str(s) for s in ns)}], but got input of size"
                           f"{list(input.shape)}")
    return ns


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None,
               eps: float = 1e-5) -> Tensor:
    ns = _check_normalized("layer_norm", input, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(t.shape)} and normalized_shape = {list(ns)}")
    D = math.prod(ns)
    x2 = input.reshape(-1, D)
    w = weight.reshape(D) if weight is not None else None
    b = bias.reshape(D) if bias is not None else None
    return _norm_rows(x2, w, b, eps).reshape(input._data.shape)


def rms_norm(input: Tensor, normalized_shape, weight=None, eps=None) -> Tensor:
    ns = _check_normalized("rms_norm", input, normalized_shape)
    if eps is None:
        import numpy as np

        eps = float(np.finfo(input._dtype.np).eps) if input._dtype.category >= 2 else 1e-7
    axes = tuple(range(input.ndim - len(ns), input.ndim))
    y = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


# group / instance norm ----------------------------------------------------------------------------
def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    N, C = input._data.shape[:2]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    _check_stat("weight", weight, C)
    y = _norm_rows(input.reshape(N * num_groups, -1), None, None, eps).reshape(input._data.shape)
    if weight is not None:
        y = y * weight.reshape(_bshape(input))
    if bias is not None:
        y = y + bias.reshape(_bshape(input))
    return y


def instance_norm(input: Tensor, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    if input.ndim < 3:
        raise ValueError(f"expected 3D or higher input (got {input.ndim}D input)")
    N, C = input._data.shape[:2]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(input._data.shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{_torch_size(input.shape)}")
    _check_stat("running_mean", running_mean, C)
    _check_stat("running_var", running_var, C)
    y = group_norm(input, C, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            x3 = input.detach().reshape(N, C, -1)
            n = x3._data.shape[2]
            mean = x3.mean(2)
            var = ((x3 - mean.unsqueeze(2)) ** 2).mean(2)
            _update_running(running_mean, running_var, mean.mean(0), var.mean(0), n, momentum)
    return y


# local response norm ------------------------------------------------------------------------------
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    d = input.ndim
    if d < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {d} dimensions)")
    if input.numel() == 0:
        return input
    div = input * input
    if d == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input._data.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).reshape(sizes)
    div = (div * alpha + k) ** beta
    return input / div

