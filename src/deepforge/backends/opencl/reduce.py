"""Reductions on CLArrays: reduce (sum, prod, max, min, all, any, mean, nansum, nanmean), var,
logsumexp, argreduce, max_min_dim. Kernels: ``opencl/reduce.cl``, ``opencl/reduce_arg.cl``.

The reduced axes are read in place (no transposed copy): one descriptor enumerates the outputs
with its leading dims and the reduced elements with its trailing dims. Float sums accumulate
in float64 where the device has it; max/min work in the input's type (exact). CPU devices: a
work-item per output (contiguous runs read 16 wide), or, reducing over outer axes, per run of
up to 2048 adjacent outputs and a part of the reduced elements (each step reads a contiguous
row segment; arg-reductions use blocks of 64 outputs), each reduction split into parts when
there are too few work-items to fill the device. GPUs: a work-item per output (coalesced for
outer axes, split into parts when there are few outputs), or a work-group tree reduction per
(output, part) for few long reductions over inner axes. Partials (accumulator dtype, laid out
[part][output]) are reduced over their outer axis by a second launch.
"""

from __future__ import annotations

import numpy as np

from .array import CLArray, contiguous_strides, new_contiguous
from .desc import DT_CODES, collapse, pack_split
from .plan import AVAILABLE as _PLANS

__all__ = ["ReduceOps"]

_I64 = np.int64
_I32 = np.int32
_OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "all": 4, "any": 5, "nansum": 6}
_SQDEV, _SUMEXP = 7, 8
_COMBINE = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 0, 7: 0, 8: 0}
_BOOL = np.dtype(np.bool_)
_ACC_NP = {"F64": np.float64, "F32": np.float32, "I64": np.int64}
# scalar argument dtypes of reduce_lines/_wg/_cols, less the trailing ACC divisor (and cw)
_RED_DT = [None, _I64, _I64, _I32, _I64, None, _I64, None, None, _I32, _I32]
_COLW = 2048  # DF_COLW in reduce.cl: the longest run of outputs per reduce_cols work-item
# whole-tensor reductions of small contiguous inputs take a launch plan (see _small_reduce):
# (op code, fin) per op
_PLAN_OPS = {"sum": (0, 0), "mean": (0, 1), "prod": (1, 0), "max": (2, 0), "min": (3, 0)}
_ACC_CHAR = {"F64": b"d", "F32": b"f", "I64": b"l"}
_SMALL = 1 << 16  # below this many elements, one pass (a second launch costs more)
_CPU_SPLIT_MIN = 8192  # CPU devices: shorter reductions are never split into parts
_WG_MIN = 64  # GPUs: longer reductions over inner axes get a work-group each


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

    def _rkernel(self, name, tin, tout, acc, dtypes, filename="reduce.cl"):
        opts = f"-DTIN={DT_CODES[np.dtype(tin)]} -DTOUT={DT_CODES[np.dtype(tout)]} -DACC={acc}"
        return self.rt.kernel(filename, name, opts, dtypes)

    def _split(self, x: CLArray, axes):
        """(kept shape, lead dims, trailing dims, M, R) for reducing ``axes`` of x."""
        axes = tuple(range(x.ndim)) if axes is None else tuple(sorted(axes))
        kept = [d for d in range(x.ndim) if d not in axes]
        kshape = tuple(x.shape[d] for d in kept)
        lead = collapse(kshape, [x.strides[d] for d in kept])
        trail = collapse([x.shape[d] for d in axes], [x.strides[d] for d in axes])
        return kshape, lead, trail, _prod(kshape), _prod(x.shape[d] for d in axes)

    @staticmethod
    def _outer(lead, trail) -> bool:
        """Whether adjacent outputs (along the innermost kept dim) lie closer together in
        memory than adjacent reduced elements: a reduction over outer axes ("columns")."""
        return bool(lead and trail) and trail[-1][1] != 1 and abs(lead[-1][1]) < abs(trail[-1][1])

    def _use_wg(self, M, R, outer=False) -> bool:
        """GPUs: a work-group per output when there are few long reductions, unless adjacent
        outputs are adjacent in memory (then a work-item per output reads coalesced)."""
        return not self.rt.is_cpu and M < 2048 and R > _WG_MIN and not outer

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
        """How many parts to split each reduction into so the device has enough work-items.
        CPU: about four work-groups (of range_1d's 8 items) per compute unit. GPU (outer-axis
        reductions only): enough items to fill the device, each part at least 64 long."""
        rt = self.rt
        if not rt.is_cpu:
            return max(1, min(-(-256 * rt.compute_units // units), R // 64))
        target = 32 * rt.compute_units
        if units >= target or R < _CPU_SPLIT_MIN:
            return 1
        return max(1, min(-(-target // units), R // 4096))

    def _col_geometry(self, lead, M, R, parts):
        """reduce_cols on CPU devices: (runs of outputs per work-item, parts P, run length).
        Runs as long as the accumulators allow (full rows stream best), then the reduced
        elements split into parts of at least 32, then shorter runs, until about four
        work-groups per compute unit."""
        target = 32 * self.rt.compute_units
        Mi, outer = lead[-1][0], M // lead[-1][0]
        cw = min(Mi, _COLW)
        units = outer * -(-Mi // cw)
        P = 1
        if parts and units < target and M * R >= _SMALL:
            P = max(1, min(-(-target // units), R // 32))
        if units * P < target and M * R >= _SMALL:
            per = -(-Mi // -(-target // (outer * P)))  # outputs per run for enough runs
            cw = max(16, min(cw, -(-per // 16) * 16))
            units = outer * -(-Mi // cw)
        return units, P, cw

    def _geometry(self, x_size, lead, trail, M, R, parts=True):
        """(kernel family "lines"/"cols"/"wg", work units, parts P, local size for wg, run
        length for cols)."""
        rt = self.rt
        if not x_size:
            return "lines", M, 1, 0, 0
        outer = self._outer(lead, trail)
        if self._use_wg(M, R, outer):
            L, P = self._wg_geometry(M, R)
            return "wg", M, (P if parts else 1), L, 0
        if rt.is_cpu and outer:
            units, P, cw = self._col_geometry(lead, M, R, parts)
            return "cols", units, P, 0, cw
        P = self._parts(M, R) if parts and (rt.is_cpu or outer) else 1
        return "lines", M, P, 0, 0

    def _launch_reduce(self, op, src, lead, trail, offset, M, R, out, fin, div, cbuf,
                       parts=True):
        """Reduce ``src`` (a buffer of its dtype, described by lead/trail dims) into the
        contiguous ``out``; a second pass over ACC partials when split into parts."""
        rt = self.rt
        acc = self._acc(out.dtype)
        acc_np = _ACC_NP[acc]
        d, nr = pack_split(lead, trail, offset)
        fam, units, P, L, cw = self._geometry(src.size, lead, trail, M, R, parts)
        tgt = out if P == 1 else CLArray.empty(rt, (P, M), acc_np)
        k = self._rkernel("reduce_" + fam, src.dtype, tgt.dtype, acc,
                          _RED_DT + [acc_np] + ([_I64] if fam == "cols" else []))
        g, ls = ((M * P * L,), (L,)) if fam == "wg" else rt.range_1d(units * P, work=M * R)
        extra = (cw,) if fam == "cols" else ()
        rt.launch(k, g, ls, d, M, R, nr, P, tgt.buf, 0, src.buf, cbuf, op, fin if P == 1 else 0,
                  acc_np(div if P == 1 else 1), *extra)
        if P > 1:
            self._launch_reduce(_COMBINE[op], tgt, [(M, 1)], [(P, M)], 0, M, P, out, fin, div,
                                cbuf, parts=False)

    def _reduce_into(self, op, x, axes, out_dtype, fin=0, div=1.0, center=None):
        """Reduce x over axes with op code ``op``; a contiguous result of the kept shape."""
        kshape, lead, trail, M, R = self._split(x, axes)
        out = CLArray.empty(self.rt, kshape, np.dtype(out_dtype))
        if M:
            cbuf = center.buf if center is not None else out.buf
            self._launch_reduce(op, x, lead, trail, x.offset, M, R, out, fin, div, cbuf)
        return out

    @staticmethod
    def _keep(out, x, axes, keepdim):
        if not keepdim:
            return out
        axes = tuple(range(x.ndim)) if axes is None else axes
        shape = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
        return out.view(shape, contiguous_strides(shape), 0)

    def _small_reduce(self, op, x, dtype):
        """``op`` over every element of a small contiguous ``x`` through a launch plan (one
        reduce_lines work-item, as _launch_reduce would launch it) with the constant
        arguments set once: the general path's geometry and descriptor work cost several
        times the launch. None where the general path must run."""
        rt = self.rt
        R = x.size
        # the general path's choice for one output: "lines" in one part up to these sizes
        if not _PLANS or not R or R > (_CPU_SPLIT_MIN - 1 if rt.is_cpu else _WG_MIN):
            return None
        key = ("plan", "reduce_lines", op, x.dtype, dtype)
        plan = rt.tls.kernels.get(key)
        if plan is None:
            code, fin = _PLAN_OPS[op]
            acc = self._acc(dtype)
            opts = f"-DTIN={DT_CODES[x.dtype]} -DTOUT={DT_CODES[dtype]} -DACC={acc}"
            # M = 1 output, P = 1 part, output offset 0, op code and final step fixed
            fixed = (1, b"l", 1, 4, b"l", 1, 6, b"l", 0, 9, b"i", code, 10, b"i", fin)
            plan = rt.plan(key, "reduce.cl", "reduce_lines", opts, fixed)
            plan.data = [None, _ACC_CHAR[acc], fin]  # (R, offset) of the descriptor set
        out = new_contiguous(rt, (), dtype, 1)
        data = plan.data
        if data[0] != (R, x.offset):
            d, nr = pack_split([], [(R, 1)] if R > 1 else [], x.offset)
            data[0] = None
            plan.kernel.set_arg(0, d)
            plan.last = None  # the ints below are set again with it
            data[0] = (R, x.offset)
        div = float(R) if data[2] else 1.0
        plan.run(1, (5, out.buf, 7, x.buf, 8, out.buf), (2, b"l", R, 3, b"i", 1),
                 (11, data[1], div if data[1] != b"l" else int(div)))
        return out

    def reduce(self, op, x, axes, keepdim, dtype):
        dtype = np.dtype(dtype)
        if (op in _PLAN_OPS and (axes is None or len(axes) == x.ndim)
                and (x._contig or x.is_contiguous)):
            out = self._small_reduce(op, x, dtype)
            if out is not None:
                return self._keep(out, x, axes, keepdim)
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
        wg_dt = [None, _I64, _I64, _I32, _I64, None, None, None, _I32]
        fam, units, P, L, _ = self._geometry(x.size, lead, trail, M, R)
        if fam == "cols":  # arg_cols: blocks of 64 outputs in registers
            units = M // lead[-1][0] * -(-lead[-1][0] // 64)
            P = self._parts(units, R)
        pv, pi = (vals, idx) if P == 1 else (CLArray.empty(rt, (P, M), x.dtype),
                                             CLArray.empty(rt, (P, M), np.int64))
        k = self._rkernel("arg_" + fam, x.dtype, x.dtype, acc,
                          lines_dt if fam == "lines" else wg_dt, "reduce_arg.cl")
        g, ls = ((M * P * L,), (L,)) if fam == "wg" else rt.range_1d(units * P, work=M * R)
        extra = (pi.buf, 0) if fam == "lines" else ()
        rt.launch(k, g, ls, d, M, R, nr, P, pv.buf, pi.buf, x.buf, *extra, int(is_max))
        if P > 1:
            d2, nr2 = pack_split([(M, 1)], [(P, M)], 0)
            k2 = self._rkernel("arg_lines", x.dtype, x.dtype, acc, lines_dt, "reduce_arg.cl")
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

