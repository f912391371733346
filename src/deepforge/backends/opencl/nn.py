"""Neural-network primitives on CLArrays: matmul, the softmax family, random numbers and the
fused optimizer steps. Kernels: ``opencl/matmul_simple.cl`` (until the tuned ``gemm`` module
is present), ``opencl/softmax.cl``, ``opencl/random.cl``, ``opencl/optim.cl``.
"""

from __future__ import annotations

import importlib

import numpy as np

from .array import CLArray
from .desc import broadcast_shape, broadcast_strides, compute_np, pack_desc, topt

__all__ = ["NNOps"]

_I64 = np.int64
_I32 = np.int32
_U64 = np.uint64
_TILE = 16
# Per-tensor arguments of the optimizer kernels: n, then each buffer and its offset (adam:
# param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq; sgd: param, grad, momentum buffer); the
# *_multi kernels take _MULTI such slots (8 in optim.cl)
_ADAM_SLOT_TYPES = (_I64,) + (None, _I64) * 5
_SGD_SLOT_TYPES = (_I64,) + (None, _I64) * 3
_MULTI = 8
_gemm = None
_gemm_checked = False


def _gemm_module():
    """The tuned GEMM module (``gemm.matmul(rt, a, b, out_dtype)``) when it is installed."""
    global _gemm, _gemm_checked
    if not _gemm_checked:
        try:
            _gemm = importlib.import_module(".gemm", __package__)
        except ModuleNotFoundError as e:
            if not (e.name or "").endswith("gemm"):
                raise
            _gemm = None
        _gemm_checked = True
    return _gemm


def _without(seq, axis):
    return tuple(v for d, v in enumerate(seq) if d != axis)


class NNOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the other mixins."""

    # -- matmul --------------------------------------------------------------------------------
    def matmul(self, a, b, dtype):
        dtype = np.dtype(dtype)
        g = _gemm_module()
        if g is not None:
            return g.matmul(self.rt, a, b, dtype)
        return self._matmul_simple(a, b, dtype)

    def matmul_bias(self, a, b, bias, dtype):
        """``a @ b + bias`` for 2-D ``a``, ``b`` and a (N,) ``bias``: the bias is added inside
        the GEMM kernel where it can be (one launch), else by a second one."""
        dtype = np.dtype(dtype)
        if bias.dtype != dtype:
            bias = self.astype(bias, dtype)
        g = _gemm_module()
        r = None if g is None else g.matmul(self.rt, a, b, dtype, bias=bias)
        return r if r is not None else self.binary("add", self.matmul(a, b, dtype), bias, dtype)

    def _matmul_simple(self, a, b, dtype):
        a = self._as(a, dtype)
        b = self._as(b, dtype)
        M, K = a.shape[-2], a.shape[-1]
        N = b.shape[-1]
        batch = broadcast_shape(a.shape[:-2], b.shape[:-2])
        out = CLArray.empty(self.rt, batch + (M, N), dtype)
        if out.size == 0:
            return out
        ast = broadcast_strides(a.shape[:-2], a.strides[:-2], batch)
        bst = broadcast_strides(b.shape[:-2], b.strides[:-2], batch)
        d, nb = pack_desc(batch, [out.strides[:-2], ast, bst], [0, a.offset, b.offset])
        k = self.rt.kernel("matmul_simple.cl", "matmul_tiled", topt(dtype),
                           [None, _I64, _I64, _I64, None, _I64, _I64, None, _I64, _I64, None,
                            _I64, _I64])
        gs = (-(-N // _TILE) * _TILE, -(-M // _TILE) * _TILE, nb)
        self.rt.launch(k, gs, (_TILE, _TILE, 1), d, M, N, K, out.buf, out.strides[-2],
                       out.strides[-1], a.buf, a.strides[-2], a.strides[-1], b.buf,
                       b.strides[-2], b.strides[-1])
        return out

    # -- softmax family ------------------------------------------------------------------------
    def _softmax(self, kind, x, axis, gy=None):
        if x.ndim == 0:
            r = self._softmax(kind, x.view((1,), (1,), x.offset), 0,
                              None if gy is None else gy.view((1,), (1,), gy.offset))
            return r.view((), (), 0)
        if gy is not None and gy.dtype != x.dtype:
            gy = self.astype(gy, x.dtype)
        out = CLArray.empty(self.rt, x.shape, x.dtype)
        if out.size == 0:
            return out
        n = x.shape[axis]
        lines = x.size // n
        g = gy if gy is not None else x
        lshape = _without(x.shape, axis)
        d, _ = pack_desc(lshape, [_without(out.strides, axis), _without(x.strides, axis),
                                  _without(g.strides, axis)], [0, x.offset, g.offset])
        rt = self.rt
        args = (d, n, out.strides[axis], x.strides[axis], g.strides[axis], out.buf, x.buf, g.buf,
                kind)
        dts = [None, _I64, _I64, _I64, _I64, None, None, None, _I32]
        few = lines < 4 * rt.compute_units if rt.is_cpu else lines < 1024
        if few and n > (1024 if rt.is_cpu else 64):
            L = 16 if rt.is_cpu else min(256, rt.max_work_group_size)
            L = 1 << (L.bit_length() - 1)
            k = rt.kernel("softmax.cl", "softmax_wg", topt(x.dtype), dts)
            rt.launch(k, (lines * L,), (L,), *args)
        else:
            k = rt.kernel("softmax.cl", "softmax_lines", topt(x.dtype), dts)
            gsz, ls = rt.range_1d(lines, work=lines * n)
            rt.launch(k, gsz, ls, *args)
        return out

    def softmax(self, x, axis):
        return self._softmax(0, x, axis)

    def log_softmax(self, x, axis):
        return self._softmax(1, x, axis)

    def softmax_backward(self, y, gy, axis):
        return self._softmax(2, y, axis, gy)

    def log_softmax_backward(self, y, gy, axis):
        return self._softmax(3, y, axis, gy)

    # -- random --------------------------------------------------------------------------------
    def _random(self, name, shape, dtype, seed, offset):
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            wide = np.float64 if self.supports_fp64 else np.float32
            return self.astype(self._random(name, shape, wide, seed, offset), dtype)
        out = CLArray.empty(self.rt, shape, dtype)
        if out.size:
            extra = [] if name == "random_normal" else [_I32]
            k = self.rt.kernel("random.cl", name, topt(dtype), [_I64, None, _U64, _U64] + extra)
            g, ls = self.rt.range_1d(out.size, work=out.size * 8)
            args = [out.size, out.buf, _U64(seed), _U64(offset)]
            if extra:
                args.append(0 if dtype == np.float32 else 1)
            self.rt.launch(k, g, ls, *args)
        return out

    def random_uniform(self, shape, dtype, seed, offset):
        return self._random("random_uniform", tuple(shape), dtype, seed, offset)

    def random_keep_scale(self, shape, dtype, u_dtype, seed, offset, keep, scale):
        """dropout's factor in ``dtype``: ``scale`` where ``random_uniform(shape, u_dtype,
        seed, offset)`` is below ``keep`` (compared in ``u_dtype``), else 0; one kernel.
        None where ``dtype`` is not a float or ``u_dtype`` not float32/float64."""
        dtype, u_dtype = np.dtype(dtype), np.dtype(u_dtype)
        if dtype.kind != "f" or u_dtype not in (np.float32, np.float64):
            return None
        out = CLArray.empty(self.rt, tuple(shape), dtype)
        if out.size:
            c = compute_np(dtype)
            k = self.rt.kernel("random.cl", "random_keep_scale", topt(dtype),
                               [_I64, None, _U64, _U64, _I32, c, c])
            g, ls = self.rt.range_1d(out.size, work=out.size * 8)
            # keep as u_dtype rounds it (u < keep is compared there); scale in the result dtype
            self.rt.launch(k, g, ls, out.size, out.buf, _U64(seed), _U64(offset),
                           int(u_dtype == np.float64), c(u_dtype.type(keep)),
                           c(dtype.type(scale)))  # fmt: skip
        return out

    def random_normal(self, shape, dtype, seed, offset):
        return self._random("random_normal", tuple(shape), dtype, seed, offset)

    def random_bits(self, shape, seed, offset):
        out = CLArray.empty(self.rt, tuple(shape), np.uint32)
        if out.size:
            k = self.rt.kernel("random.cl", "random_bits", topt(np.float32), [_I64, None, _U64,
                                                                               _U64])
            g, ls = self.rt.range_1d(out.size, work=out.size * 8)
            self.rt.launch(k, g, ls, out.size, out.buf, _U64(seed), _U64(offset))
        return out

    # -- fused optimizer steps -----------------------------------------------------------------
    @staticmethod
    def _dense(*arrays) -> bool:
        """Whether the fused kernels can take these arrays (contiguous, float); the steps
        return False to decline otherwise, and the optimizer falls back to Tensor ops."""
        return all(x is None or (x.is_contiguous and x.dtype.kind == "f") for x in arrays)

    def _sgd_slot(self, param, grad, buf, use_mom):
        """One tensor's sgd kernel arguments (n, then each buffer with its offset), or None
        where the kernel declines the arrays."""
        if not self._dense(param, grad, buf if use_mom else None):
            return None
        if grad.dtype != param.dtype:
            grad = self.astype(grad, param.dtype)
        b = buf if use_mom else param
        return (param.size, param.buf, param.offset, grad.buf, grad.offset, b.buf, b.offset)

    def sgd_momentum_step(self, param, grad, buf, lr, momentum=0.0, dampening=0.0,
                          weight_decay=0.0, nesterov=False, maximize=False, first_step=False):
        use_mom = momentum != 0.0 and buf is not None
        slot = self._sgd_slot(param, grad, buf, use_mom)
        if slot is None:
            return False
        if slot[0] == 0:
            return True
        c = compute_np(param.dtype)
        k = self.rt.kernel("optim.cl", "sgd_momentum_step", topt(param.dtype),
                           list(_SGD_SLOT_TYPES) + [c] * 4 + [_I32] * 4)
        g, ls = self.rt.range_1d(slot[0])
        self.rt.launch(k, g, ls, *slot, lr, momentum, 1.0 - dampening, weight_decay,
                       int(nesterov), int(maximize), int(first_step), int(use_mom))
        return True

    def sgd_multi_step(self, items, lr, momentum, dampening, weight_decay, nesterov, maximize,
                       first_step):
        """``sgd_momentum_step`` for many tensors of one dtype, eight to a launch
        (``sgd_multi``): ``items`` are (param, grad, momentum buffer or None) tuples. Returns
        one bool per item: False where the kernel declined the arrays."""
        use_mom = momentum != 0.0
        done, slots, dtype = [], [], None
        for param, grad, buf in items:
            slot = self._sgd_slot(param, grad, buf, use_mom and buf is not None)
            if use_mom and buf is None or (slot and dtype is not None and param.dtype != dtype):
                slot = None
            done.append(slot is not None)
            if slot is not None and slot[0]:
                slots.append(slot)
                dtype = param.dtype
        if slots:
            c = compute_np(dtype)
            k = self.rt.kernel("optim.cl", "sgd_multi", topt(dtype),
                               list(_SGD_SLOT_TYPES) * _MULTI + [c] * 4 + [_I32] * 4)
            scalars = (lr, momentum, 1.0 - dampening, weight_decay, int(nesterov),
                       int(maximize), int(first_step), int(use_mom))
            self._multi_launch(k, slots, scalars)
        return done

    def _multi_launch(self, kernel, slots, scalars):
        """Launch a ``*_multi`` kernel over ``slots`` (per-tensor argument tuples, n first),
        _MULTI to a launch; unused slots get n = 0 and the first slot's buffers."""
        for i in range(0, len(slots), _MULTI):
            chunk = slots[i:i + _MULTI]
            unused = (0,) + chunk[0][1:]
            args = [a for s in chunk for a in s] + list(unused) * (_MULTI - len(chunk))
            g, ls = self.rt.range_1d(sum(s[0] for s in chunk))
            self.rt.launch(kernel, g, ls, *args, *scalars)

    def _adam_slot(self, param, grad, exp_avg, exp_avg_sq, vmax, amsgrad):
        """One tensor's kernel arguments (n, then each buffer with its offset), or None where
        the kernel declines the arrays."""
        if amsgrad and vmax is None:
            raise ValueError("adam_step: amsgrad needs max_exp_avg_sq")
        vmax = vmax if amsgrad else None
        if not self._dense(param, grad, exp_avg, exp_avg_sq, vmax):
            return None
        if grad.dtype != param.dtype:
            grad = self.astype(grad, param.dtype)
        x = vmax if vmax is not None else param
        return (param.size, param.buf, param.offset, grad.buf, grad.offset, exp_avg.buf,
                exp_avg.offset, exp_avg_sq.buf, exp_avg_sq.offset, x.buf, x.offset)

    @staticmethod
    def _adam_scalars(lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step):
        if step < 1:
            raise ValueError(f"adam_step: step must be >= 1, got {step}")
        bc1, bc2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step
        return (1.0 - beta1, 1.0 - lr * weight_decay, weight_decay, beta2, 1.0 - beta2,
                -(lr / bc1), 1.0 / bc2 ** 0.5, eps, int(decoupled), int(amsgrad), int(maximize))

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
                  weight_decay, decoupled, amsgrad, maximize, step):
        scalars = self._adam_scalars(lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
                                     maximize, step)
        slot = self._adam_slot(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad)
        if slot is None:
            return False
        if slot[0] == 0:
            return True
        c = compute_np(param.dtype)
        k = self.rt.kernel("optim.cl", "adam_step", topt(param.dtype),
                           list(_ADAM_SLOT_TYPES) + [c] * 8 + [_I32] * 3)
        g, ls = self.rt.range_1d(slot[0])
        self.rt.launch(k, g, ls, *slot, *scalars)
        return True

    def adam_multi_step(self, items, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
                        maximize, step):
        """``adam_step`` for many tensors of one dtype, eight to a launch (``adam_multi``):
        ``items`` are (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) tuples. Returns one
        bool per item: False where the kernel declined the arrays (the caller updates those
        another way)."""
        scalars = self._adam_scalars(lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
                                     maximize, step)
        done, slots, dtype = [], [], None
        for item in items:
            slot = self._adam_slot(*item, amsgrad)
            if slot is not None and dtype is not None and item[0].dtype != dtype:
                slot = None  # one kernel build per dtype: a mixed list is not expected
            done.append(slot is not None)
            if slot is not None and slot[0]:
                slots.append(slot)
                dtype = item[0].dtype
        if not slots:
            return done
        c = compute_np(dtype)
        k = self.rt.kernel("optim.cl", "adam_multi", topt(dtype),
                           list(_ADAM_SLOT_TYPES) * _MULTI + [c] * 8 + [_I32] * 3)
        self._multi_launch(k, slots, scalars)
        return done
