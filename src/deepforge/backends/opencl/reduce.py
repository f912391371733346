"""Reductions on CLArrays: reduce (sum, prod, max, min, all, any, mean, nansum, nanmean), var,
logsumexp, argreduce, max_min_dim. Kernels: ``opencl/reduce.cl``.

The reduced axes are read in place (no transposed copy): one descriptor enumerates the outputs
with its leading dims and the reduced elements with its trailing dims. Float sums accumulate
in float64 where the device has it. CPU devices: a work-item per output (or per block of 64
outputs when reducing over outer axes), each reduction split into parts when there are too
few outputs to fill the device. GPUs: a work-item per output, or a work-group tree reduction
per (output, part) for few long reductions. Partials (accumulator dtype) are combined by a
second pass.
"""

from __future__ import annotations

import numpy as np

from .array import CLArray, contiguous_strides
from .desc import DT_CODES, collapse, pack_split

__all__ = ["ReduceOps"]

_I64 = np.int64
_I32 = np.int32
_OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "all": 4, "any": 5, "nansum": 6}
_SQDEV, _SUMEXP = 7, 8
_COMBINE = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 0, 7: 0, 8: 0}
_BOOL = np.dtype(np.bool_)


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class ReduceOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the elementwise mixin."""

    def _acc(self, out_dtype) -> str:
        d = np.dtype(out_dtype)
        if d.kind == "f":
            wide = d == np.float64 or self.supports_fp64
            return "F64" if wide else "F32"
        return "I64"

    def _rkernel(self, name, tin, tout, acc, dtypes):
        opts = f"-DTIN={DT_CODES[np.dtype(tin)]} -DTOUT={DT_CODES[np.dtype(tout)]} -DACC={acc}"
        return self.rt.kernel("reduce.cl", name, opts, dtypes)

    def _split(self, x: CLArray, axes):
        """(kept shape, lead dims, trailing dims, M, R) for reducing ``axes`` of x."""
        axes = tuple(range(x.ndim)) if axes is None else tuple(sorted(axes))
        kept = [d for d in range(x.ndim) if d not in axes]
        kshape = tuple(x.shape[d] for d in kept)
        lead = collapse(kshape, [x.strides[d] for d in kept])
        trail = collapse([x.shape[d] for d in axes], [x.strides[d] for d in axes])
        return kshape, lead, trail, _prod(kshape), _prod(x.shape[d] for d in axes)

    def _use_wg(self, M, R) -> bool:
        """GPUs: a work-group per output when there are few long reductions."""
        return not self.rt.is_cpu and M < 2048 and R > 64

    def _wg_geometry(self, M, R):
        rt = self.rt
        if rt.is_cpu:
            L, target, min_part = 16, 4 * rt.compute_units, 16 * 2048
        else:
            L, target = min(256, rt.max_work_group_size), 16 * rt.compute_units
            min_part = L * 16
        L = 1 << (L.bit_length() - 1)
        P = max(1, min(-(-target // M), -(-R // min_part)))
        return L, P

    def _parts(self, units, R) -> int:
        """How many parts to split each reduction into so a CPU device has enough items:
        about four work-groups (of range_1d's 8 items) per compute unit."""
        target = 32 * self.rt.compute_units
        if units >= target or R < 8192:
            return 1
        return max(1, min(-(-target // units), R // 4096))

    def _reduce_into(self, op, x, axes, out_dtype, fin=0, div=1.0, center=None):
        """Reduce x over axes with op code ``op``; a contiguous result of the kept shape."""
        out_dtype = np.dtype(out_dtype)
        kshape, lead, trail, M, R = self._split(x, axes)
        out = CLArray.empty(self.rt, kshape, out_dtype)
        if M == 0:
            return out
        acc = self._acc(out_dtype)
        acc_np = {"F64": np.float64, "F32": np.float32, "I64": np.int64}[acc]
        cbuf = center.buf if center is not None else out.buf
        rt = self.rt
        d, nr = pack_split(lead, trail, x.offset)
        dts = [None, _I64, _I64, _I32, _I64, None, _I64, None, None, _I32, _I32, acc_np]
        if x.size and self._use_wg(M, R):
            L, P = self._wg_geometry(M, R)
            name, gsl, P = "reduce_wg", None, P
        else:
            cols = (rt.is_cpu and len(lead) == 1 and trail and trail[-1][1] != 1
                    and abs(lead[0][1]) < abs(trail[-1][1]))
            name = "reduce_cols" if cols else "reduce_lines"
            units = -(-M // 64) if cols else M
            P = self._parts(units, R) if rt.is_cpu and x.size else 1
            gsl = rt.range_1d(units * P, work=M * R)
        tgt, tdt = (out, out_dtype) if P == 1 else (
            CLArray.empty(rt, (P, M), acc_np), acc_np)
        k = self._rkernel(name, x.dtype, tdt, acc, dts)
        g, ls = gsl if gsl is not None else ((M * P * L,), (L,))
        rt.launch(k, g, ls, d, M, R, nr, P, tgt.buf, 0, x.buf, cbuf, op, fin if P == 1 else 0,
                  acc_np(div if P == 1 else 1))
        if P == 1:
            return out
        d2, nr2 = pack_split([(M, 1)], [(P, M)], 0)
        k2 = self._rkernel("reduce_lines", acc_np, out_dtype, acc, dts)
        g, ls = rt.range_1d(M, work=M * P)
        rt.launch(k2, g, ls, d2, M, P, nr2, 1, out.buf, 0, tgt.buf, cbuf, _COMBINE[op], fin,
                  acc_np(div))
        return out

    @staticmethod
    def _keep(out, x, axes, keepdim):
        if not keepdim:
            return out
        axes = tuple(range(x.ndim)) if axes is None else axes
        shape = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
        return out.view(shape, contiguous_strides(shape), 0)

    def reduce(self, op, x, axes, keepdim, dtype):
        dtype = np.dtype(dtype)
        if op in ("all", "any"):
            out = self._reduce_into(_OPS[op], x, axes, _BOOL)
        elif op == "mean":
            _, _, _, _, R = self._split(x, axes)
            out = self._reduce_into(0, x, axes, dtype, fin=1, div=float(R))
        elif op == "nanmean":
            s = self._reduce_into(6, x, axes, dtype)
            cnt = self._reduce_into(0, self.unary("isnan", x, _BOOL), axes, np.int64)
            _, _, _, _, R = self._split(x, axes)
            cnt = self.binary("sub", R, cnt, np.int64)
            out = self.binary("div", s, self.astype(cnt, dtype), dtype)
        elif op == "nansum" and x.dtype.kind != "f":
            out = self._reduce_into(0, x, axes, dtype)
        else:
            out = self._reduce_into(_OPS[op], x, axes, dtype)
        return self._keep(out, x, axes, keepdim)

    def var(self, x, axes, correction, keepdim, dtype):
        dtype = np.dtype(dtype)
        if x.dtype != dtype:
            x = self.astype(x, dtype)
        _, _, _, _, R = self._split(x, axes)
        acc_np = {"F64": np.float64, "F32": np.float32}[self._acc(dtype)]
        mean = self._reduce_into(0, x, axes, acc_np, fin=1, div=float(R))
        out = self._reduce_into(_SQDEV, x, axes, dtype, fin=1, div=float(R - correction),
                                center=mean)
        return self._keep(out, x, axes, keepdim)

    def logsumexp(self, x, axes, keepdim):
        acc_np = {"F64": np.float64, "F32": np.float32}[self._acc(x.dtype)]
        m = self._reduce_into(2, x, axes, acc_np)
        out = self._reduce_into(_SUMEXP, x, axes, x.dtype, fin=2, center=m)
        return self._keep(out, x, axes, keepdim)

    # -- arg-reductions ------------------------------------------------------------------------
    def _arg(self, is_max, x, axis):
        axes = None if axis is None else (axis,)
        kshape, lead, trail, M, R = self._split(x, axes)
        vals = CLArray.empty(self.rt, kshape, x.dtype)
        idx = CLArray.empty(self.rt, kshape, np.int64)
        if M == 0:
            return vals, idx
        rt = self.rt
        acc = self._acc(x.dtype)
        d, nr = pack_split(lead, trail, x.offset)
        lines_dt = [None, _I64, _I64, _I32, _I64, None, None, None, None, _I32, _I32]
        if self._use_wg(M, R):
            L, P = self._wg_geometry(M, R)
        else:
            L, P = 0, (self._parts(M, R) if rt.is_cpu else 1)
        pv, pi = (vals, idx) if P == 1 else (CLArray.empty(rt, (P, M), x.dtype),
                                             CLArray.empty(rt, (P, M), np.int64))
        if L:
            k = self._rkernel("arg_wg", x.dtype, x.dtype, acc,
                              [None, _I64, _I64, _I32, _I64, None, None, None, _I32])
            rt.launch(k, (M * P * L,), (L,), d, M, R, nr, P, pv.buf, pi.buf, x.buf, int(is_max))
        else:
            k = self._rkernel("arg_lines", x.dtype, x.dtype, acc, lines_dt)
            g, ls = rt.range_1d(M * P, work=M * R)
            rt.launch(k, g, ls, d, M, R, nr, P, pv.buf, pi.buf, x.buf, pi.buf, 0, int(is_max))
        if P > 1:
            d2, nr2 = pack_split([(M, 1)], [(P, M)], 0)
            k2 = self._rkernel("arg_lines", x.dtype, x.dtype, acc, lines_dt)
            g, ls = rt.range_1d(M, work=M * P)
            rt.launch(k2, g, ls, d2, M, P, nr2, 1, vals.buf, idx.buf, pv.buf, pi.buf, 1,
                      int(is_max))
        return vals, idx

    def argreduce(self, op, x, axis, keepdim):
        _, idx = self._arg(op == "argmax", x, axis)
        if keepdim:
            shape = (1,) * x.ndim if axis is None else tuple(
                1 if d == axis else s for d, s in enumerate(x.shape))
            idx = idx.view(shape, contiguous_strides(shape), 0)
        return idx

    def max_min_dim(self, op, x, axis, keepdim):
        vals, idx = self._arg(op == "max", x, axis)
        if keepdim:
            shape = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
            vals = vals.view(shape, contiguous_strides(shape), 0)
            idx = idx.view(shape, contiguous_strides(shape), 0)
        return vals, idx

