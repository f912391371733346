"""Elementwise primitives on CLArrays: copies and casts, fills, unary, binary, where, clamp,
lerp, nan_to_num. Kernels: ``opencl/copy.cl`` and ``opencl/elementwise.cl``.

Operands are read in place through their strides (broadcast dims have stride 0); when every
operand is contiguous with the result's shape a contiguous kernel runs instead. An operand
whose dtype differs from the computation dtype is cast first.

``unary`` and ``binary`` start with a fast path for the commonest small-op case (no ``out=``,
contiguous operands already of the computation dtype, equal shapes or a Python scalar): it
launches through a per-(op, dtype, mode) ``Plan`` (see ``plan.py``) and allocates the result
without normalising its arguments again, since the per-op overhead of a small tensor is all
Python. Everything else takes the general path, which also owns every error message.
"""

from __future__ import annotations

import re

import numpy as np

from .array import CLArray, new_contiguous
from .desc import (
    DT_CODES,
    RAW_CODES,
    RAW_NP,
    broadcast_shape,
    broadcast_strides,
    compute_np,
    pack_desc,
    raw_bits,
    scalar_of,
    topt,
)
from .plan import AVAILABLE as _PLANS
from .plan import LONG as _L
from .runtime import kernel_dirs

__all__ = ["ElementwiseOps", "op_codes"]

_I64 = np.int64
_I32 = np.int32
_BOOL = np.dtype(np.bool_)


def _parse_codes():
    text = ""
    for d in kernel_dirs():
        p = d / "elementwise.cl"
        if p.is_file():
            text = p.read_text()
            break
    codes: dict = {}
    for fam, name, code in ((m.group(2), m.group(3), int(m.group(1)))
                            for m in re.finditer(r"X\((\d+),\s*(unary|binary)_(\w+)", text)):
        codes[(fam, name)] = code
    return codes


_CODES: dict | None = None


def op_codes() -> dict:
    """{("unary"|"binary", op name): op code} as declared in opencl/elementwise.cl."""
    global _CODES
    if _CODES is None:
        _CODES = _parse_codes()
    return _CODES


_PRED = frozenset(("isnan", "isinf", "isfinite", "signbit", "logical_not"))
_COMPARE = frozenset(("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                      "logical_xor"))
# ops whose integer variant does not exist (the dispatch layer computes them in float)
_INT_UNARY = frozenset(("neg", "abs", "sign", "square", "positive", "relu", "floor", "ceil",
                        "trunc", "round", "bitwise_not"))
_FLOAT_ONLY_BINARY = frozenset(("div", "atan2", "hypot", "logaddexp", "copysign", "nextafter",
                                "zeta", "relu_grad", "gelu_grad", "silu_grad"))
_INT_ONLY_BINARY = frozenset(("bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
                              "right_shift", "gcd"))
_FUSED_UNARY_GRADS = frozenset(("relu", "gelu", "silu"))
_PY_NUMBERS = frozenset((int, float, bool))  # scalars the binary fast path converts itself


def _scalar_packing(dtype):
    """(struct typechar, converter) of a binary kernel's compute-type scalar for ``dtype``,
    converting as ``scalar_of`` does."""
    cnp = compute_np(dtype)
    if dtype == np.float32:
        return b"f", np.float32
    if cnp is np.float32:  # float16: rounded to half first
        return b"f", lambda v: scalar_of(v, dtype)
    if cnp is np.float64:
        return b"d", float
    return _L, lambda v: scalar_of(v, dtype)


def _ranges_overlap(a: CLArray, b: CLArray) -> bool:
    if a.buf is not b.buf or a.size == 0 or b.size == 0:
        return False

    def span(x):
        lo = hi = x.offset
        for s, st in zip(x.shape, x.strides):
            if st > 0:
                hi += (s - 1) * st
            else:
                lo += (s - 1) * st
        return lo * x.itemsize, (hi + 1) * x.itemsize

    alo, ahi = span(a)
    blo, bhi = span(b)
    return alo < bhi and blo < ahi


class ElementwiseOps:
    """Mixin of the OpenCL backend: needs ``self.rt``."""

    # -- kernels -------------------------------------------------------------------------------
    def _k(self, filename, name, options, dtypes):
        return self.rt.kernel(filename, name, options, dtypes)

    def _run(self, kernel, n, *args):
        g, lsz = self.rt.range_1d(n)
        self.rt.launch(kernel, g, lsz, *args)

    # -- memory --------------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return CLArray.empty(self.rt, shape, dtype)

    def zeros(self, shape, dtype):
        return self.full(shape, 0, dtype)

    def full(self, shape, value, dtype):
        x = CLArray.empty(self.rt, shape, dtype)
        self._fill(x, value)
        return x

    def _fill(self, x: CLArray, value) -> None:
        if x.size == 0:
            return
        code = RAW_CODES[x.itemsize]
        opts = f"-DSRC={code} -DDST={code}"
        raw = RAW_NP[x.itemsize]
        bits = raw(raw_bits(value, x.dtype))
        if x.is_contiguous:
            k = self._k("copy.cl", "fill_c", opts, [_I64, None, _I64, raw])
            self._run(k, x.size, x.size, x.buf, x.offset, bits)
            return
        d, n = pack_desc(x.shape, [x.strides], [x.offset])
        k = self._k("copy.cl", "fill_s", opts, [None, None, raw])
        self._run(k, n, d, x.buf, bits)

    def copy_(self, dst: CLArray, src) -> None:
        """dst[...] = src with broadcasting and casting (numpy's copyto, casting='unsafe')."""
        if not isinstance(src, CLArray):
            if isinstance(src, np.ndarray):
                src = self.from_numpy(np.ascontiguousarray(src))
            else:
                self._fill(dst, src)
                return
        if dst.size == 0:
            return
        if src.shape != dst.shape:
            broadcast_shape(dst.shape, src.shape)
            if broadcast_shape(dst.shape, src.shape) != dst.shape:
                raise ValueError(f"could not broadcast input array from shape {src.shape} into "
                                 f"shape {dst.shape}")
        if _ranges_overlap(dst, src) and not (dst.offset == src.offset
                                              and dst.strides == src.strides
                                              and dst.shape == src.shape):
            src = self.clone(src)
        self._cast_into(dst, src)

    def _cast_into(self, dst: CLArray, src: CLArray) -> None:
        if dst.dtype == src.dtype:
            code = RAW_CODES[dst.itemsize]
            opts = f"-DSRC={code} -DDST={code}"
        else:
            opts = f"-DSRC={DT_CODES[src.dtype]} -DDST={DT_CODES[dst.dtype]}"
        if src.shape == dst.shape and src.is_contiguous and dst.is_contiguous:
            k = self._k("copy.cl", "cast_c", opts, [_I64, None, _I64, None, _I64])
            self._run(k, dst.size, dst.size, dst.buf, dst.offset, src.buf, src.offset)
            return
        sst = broadcast_strides(src.shape, src.strides, dst.shape)
        d, n = pack_desc(dst.shape, [dst.strides, sst], [dst.offset, src.offset])
        k = self._k("copy.cl", "cast_s", opts, [None, None, None])
        self._run(k, n, d, dst.buf, src.buf)

    def astype(self, x: CLArray, dtype):
        out = CLArray.empty(self.rt, x.shape, dtype)
        if x.size:
            self._cast_into(out, x)
        return out

    def clone(self, x: CLArray):
        return self.astype(x, x.dtype)

    def contiguous(self, x: CLArray):
        return x if x.is_contiguous else self.clone(x)

    def _as(self, x, dtype):
        """x as an array of ``dtype`` (cast when it differs); scalars pass through."""
        if isinstance(x, CLArray) and x.dtype != dtype:
            return self.astype(x, dtype)
        return x

    # -- unary ---------------------------------------------------------------------------------
    def unary(self, op, x: CLArray, dtype, out=None):
        if (out is None and x.__class__ is CLArray and x.dtype is dtype
                and (x._contig or x.is_contiguous)):
            key = ("plan", "ew_unary_c", op, dtype)
            plan = self.rt.tls.kernels.get(key)
            if plan is None:
                plan = self._unary_plan(op, dtype, key)
            if plan:
                n = x.size
                r = new_contiguous(self.rt, x.shape, dtype, n)
                if n:
                    rec = self.rt.recorder
                    if rec is None or not rec.unary(dtype, plan.data, n, r.buf, x.buf,
                                                    x.offset):
                        plan.run(n, (1, r.buf, 3, x.buf), (0, _L, n, 4, _L, x.offset))
                return r
        return self._unary(op, x, dtype, out)

    def _unary_plan(self, op, dtype, key):
        """The fast path's plan for ``key``, or False (remembered) where the general path must
        run (predicates, ops without a variant for ``dtype``: it raises the errors)."""
        code = op_codes().get(("unary", op))
        if (not _PLANS or code is None or op in _PRED or dtype not in DT_CODES
                or (dtype.kind != "f" and op not in _INT_UNARY)
                or (op == "bitwise_not" and dtype.kind == "f")):
            self.rt.tls.kernels[key] = False
            return False
        plan = self.rt.plan(key, "elementwise.cl", "ew_unary_c", topt(dtype),
                            (2, _L, 0, 5, b"i", code))
        plan.data = code
        return plan

    def _unary(self, op, x: CLArray, dtype, out=None):
        dtype = np.dtype(dtype)
        if op in _PRED:
            code = op_codes()[("unary", op)]
            r = out if out is not None and out.dtype == _BOOL else CLArray.empty(
                self.rt, x.shape, _BOOL)
            if x.size:
                d, n = pack_desc(r.shape, [r.strides, broadcast_strides(x.shape, x.strides,
                                                                        r.shape)],
                                 [r.offset, x.offset])
                k = self._k("elementwise.cl", "ew_pred_s", topt(x.dtype), [None, None, None, _I32])
                self._run(k, n, d, r.buf, x.buf, code)
            return self._finish_out(r, out)
        if op == "bitwise_not" and dtype.kind == "f":
            raise TypeError(f"bitwise_not is not implemented for {dtype} on OpenCL")
        code = op_codes().get(("unary", op))
        if code is None or (dtype.kind != "f" and op not in _INT_UNARY):
            raise NotImplementedError(f"unary op '{op}' is not implemented for {dtype} on OpenCL")
        x = self._as(x, dtype)
        r = out if out is not None and out.dtype == dtype else CLArray.empty(self.rt, x.shape,
                                                                             dtype)
        if x.size:
            if x.is_contiguous and r.is_contiguous and r.shape == x.shape:
                k = self._k("elementwise.cl", "ew_unary_c", topt(dtype),
                            [_I64, None, _I64, None, _I64, _I32])
                self._run(k, r.size, r.size, r.buf, r.offset, x.buf, x.offset, code)
            else:
                d, n = pack_desc(r.shape, [r.strides, broadcast_strides(x.shape, x.strides,
                                                                        r.shape)],
                                 [r.offset, x.offset])
                k = self._k("elementwise.cl", "ew_unary_s", topt(dtype), [None, None, None, _I32])
                self._run(k, n, d, r.buf, x.buf, code)
        return self._finish_out(r, out)

    def _finish_out(self, r, out):
        if out is None or r is out:
            return r
        self.copy_(out, r)
        return out

    def unary_grad(self, op, saved, g):
        """Fused backward of relu (``saved``: its result) or gelu/silu (``saved``: the input):
        one kernel (``binary_<op>_grad``) instead of three to six; None where none applies."""
        if (op not in _FUSED_UNARY_GRADS or g.dtype is not saved.dtype or g.dtype.kind != "f"
                or g.shape != saved.shape):  # fmt: skip
            return None
        return self.binary(op + "_grad", g, saved, g.dtype)

    # -- binary --------------------------------------------------------------------------------
    def binary(self, op, a, b, dtype, out=None):
        if out is None:
            # mode as the kernel takes it: 0 two arrays, 1 array and scalar, 2 scalar and array
            if a.__class__ is CLArray:
                x = a
                if b.__class__ is CLArray:
                    mode = 0 if (b.dtype is dtype and b.shape == a.shape
                                 and (b._contig or b.is_contiguous)) else -1
                else:
                    mode = 1 if b.__class__ in _PY_NUMBERS else -1
            elif b.__class__ is CLArray and a.__class__ in _PY_NUMBERS:
                x, mode = b, 2
            else:
                mode = -1
            if mode >= 0 and x.dtype is dtype and (x._contig or x.is_contiguous):
                key = ("plan", "ew_binary_c", op, dtype, mode)
                plan = self.rt.tls.kernels.get(key)
                if plan is None:
                    plan = self._binary_plan(op, dtype, mode, key)
                if plan:
                    n = x.size
                    r = new_contiguous(self.rt, x.shape, dtype, n)
                    if n:
                        xo = x.offset
                        if mode == 0:
                            bb, bo, sc = b.buf, b.offset, None
                        else:  # the array operand twice (its b is not read), the number
                            bb, bo, sc = x.buf, xo, plan.data[1](b if mode == 1 else a)
                        rec = self.rt.recorder
                        if rec is None or not rec.binary(dtype, plan.data[2], mode, n, r.buf,
                                                         x.buf, xo, bb, bo, sc):
                            bufs = (1, r.buf, 3, x.buf, 5, bb)
                            ints = (0, _L, n, 4, _L, xo, 6, _L, bo)
                            if mode == 0:
                                plan.run(n, bufs, ints)
                            else:
                                plan.run(n, bufs, ints, (9 - mode, plan.data[0], sc))
                    return r
        return self._binary(op, a, b, dtype, out)

    def _binary_plan(self, op, dtype, mode, key):
        """The fast path's plan for ``key``, or False (remembered) where the general path must
        run (comparisons, ops without a variant for ``dtype``: it raises the errors)."""
        code = op_codes().get(("binary", op))
        if (not _PLANS or code is None or op in _COMPARE or dtype not in DT_CODES
                or (dtype.kind in "biu" and op in _FLOAT_ONLY_BINARY)
                or (dtype.kind == "f" and op in _INT_ONLY_BINARY)):
            self.rt.tls.kernels[key] = False
            return False
        c, conv = _scalar_packing(dtype)
        zero = 0.0 if c != _L else 0
        fixed = (2, _L, 0, 9, b"i", mode, 10, b"i", code)
        if mode != 2:
            fixed += (7, c, zero)  # sa, unused
        if mode != 1:
            fixed += (8, c, zero)  # sb, unused
        plan = self.rt.plan(key, "elementwise.cl", "ew_binary_c", topt(dtype), fixed)
        plan.data = (c, conv, code)
        return plan

    def _binary(self, op, a, b, dtype, out=None):
        dtype = np.dtype(dtype)
        cmp = op in _COMPARE
        code = op_codes().get(("binary", op))
        if code is None or (dtype.kind in "biu" and op in _FLOAT_ONLY_BINARY) or (
                dtype.kind == "f" and op in _INT_ONLY_BINARY):
            raise NotImplementedError(f"\"{op}\" is not implemented for {dtype} on OpenCL")
        ta, tb = isinstance(a, CLArray), isinstance(b, CLArray)
        a = self._as(a, dtype)
        b = self._as(b, dtype)
        cnp = compute_np(dtype)
        if ta and tb:
            shape = a.shape if a.shape == b.shape else broadcast_shape(a.shape, b.shape)
            mode, sa, sb, ab, bb = 0, cnp(0), cnp(0), a, b
        elif ta:
            shape, mode, sa, sb, ab, bb = a.shape, 1, cnp(0), scalar_of(b, dtype), a, a
        elif tb:
            shape, mode, sa, sb, ab, bb = b.shape, 2, scalar_of(a, dtype), cnp(0), b, b
        else:
            raise TypeError("binary(): at least one operand must be an array")
        rdt = _BOOL if cmp else dtype
        if out is not None and out.dtype == rdt and out.shape == shape:
            r = out
        else:
            r = CLArray.empty(self.rt, shape, rdt)
        if r.size:
            opts = topt(dtype)
            if (not cmp and r.is_contiguous and ab.is_contiguous and bb.is_contiguous
                    and ab.shape == shape and bb.shape == shape):
                k = self._k("elementwise.cl", "ew_binary_c", opts,
                            [_I64, None, _I64, None, _I64, None, _I64, cnp, cnp, _I32, _I32])
                self._run(k, r.size, r.size, r.buf, r.offset, ab.buf, ab.offset, bb.buf,
                          bb.offset, sa, sb, mode, code)
            else:
                d, n = pack_desc(shape, [r.strides,
                                         broadcast_strides(ab.shape, ab.strides, shape),
                                         broadcast_strides(bb.shape, bb.strides, shape)],
                                 [r.offset, ab.offset, bb.offset])
                name = "ew_compare_s" if cmp else "ew_binary_s"
                k = self._k("elementwise.cl", name, opts,
                            [None, None, None, None, cnp, cnp, _I32, _I32])
                self._run(k, n, d, r.buf, ab.buf, bb.buf, sa, sb, mode, code)
        return self._finish_out(r, out)

    # -- ternary -------------------------------------------------------------------------------
    def _operands(self, shape, arrays, dtype):
        """(strides, offsets, buffers) of up to 3 operands broadcast to ``shape``; scalars and
        None get stride 0 and a placeholder buffer."""
        sts, offs, bufs = [], [], []
        for x in arrays:
            if isinstance(x, CLArray):
                sts.append(broadcast_strides(x.shape, x.strides, shape))
                offs.append(x.offset)
                bufs.append(x.buf)
            else:
                sts.append((0,) * len(shape))
                offs.append(0)
                bufs.append(None)
        return sts, offs, bufs

    def _ternary(self, name, dtype, r, ops, scalars, mode):
        shape = r.shape
        sts, offs, bufs = self._operands(shape, ops, dtype)
        bufs = [b if b is not None else r.buf for b in bufs]
        d, n = pack_desc(shape, [r.strides] + sts, [r.offset] + offs)
        cnp = compute_np(dtype)
        k = self._k("elementwise.cl", name, topt(dtype),
                    [None] * (2 + len(ops)) + [cnp] * len(scalars) + [_I32])
        self._run(k, n, d, r.buf, *bufs, *[scalar_of(s, dtype) for s in scalars], mode)

    def where(self, cond, a, b, dtype, out=None):
        dtype = np.dtype(dtype)
        if not isinstance(cond, CLArray):
            cond = self.from_numpy(np.asarray(cond, dtype=np.bool_))
        elif cond.dtype != _BOOL:
            cond = self.astype(cond, _BOOL)
        a = self._as(a, dtype)
        b = self._as(b, dtype)
        shape = broadcast_shape(cond.shape, getattr(a, "shape", ()), getattr(b, "shape", ()))
        r = CLArray.empty(self.rt, shape, dtype)
        if r.size:
            mode = (0 if isinstance(a, CLArray) else 1) | (0 if isinstance(b, CLArray) else 2)
            sa = a if mode & 1 else 0
            sb = b if mode & 2 else 0
            self._ternary("ew_where_s", dtype, r, [cond, a, b], [sa, sb], mode)
        return self._finish_out(r, out)

    def clamp(self, x, lo, hi, dtype, out=None):
        dtype = np.dtype(dtype)
        x = self._as(x, dtype)
        lo = self._as(lo, dtype)
        hi = self._as(hi, dtype)
        shape = broadcast_shape(x.shape, getattr(lo, "shape", ()), getattr(hi, "shape", ()))
        if out is not None and out.dtype == dtype and out.shape == shape:
            r = out
        else:
            r = CLArray.empty(self.rt, shape, dtype)
        if r.size:
            mode = 0
            if lo is not None:
                mode |= 1 if isinstance(lo, CLArray) else 2
            if hi is not None:
                mode |= 4 if isinstance(hi, CLArray) else 8
            slo = lo if mode & 2 else 0
            shi = hi if mode & 8 else 0
            self._ternary("ew_clamp_s", dtype, r, [x, lo, hi], [slo, shi], mode)
        return self._finish_out(r, out)

    def lerp(self, a, b, w, dtype, out=None):
        dtype = np.dtype(dtype)
        a = self._as(a, dtype)
        b = self._as(b, dtype)
        w = self._as(w, dtype)
        shape = broadcast_shape(a.shape, getattr(b, "shape", ()), getattr(w, "shape", ()))
        if out is not None and out.dtype == dtype and out.shape == shape:
            r = out
        else:
            r = CLArray.empty(self.rt, shape, dtype)
        if r.size:
            mode = (0 if isinstance(b, CLArray) else 1) | (0 if isinstance(w, CLArray) else 2)
            self._ternary("ew_lerp_s", dtype, r, [a, b, w],
                          [b if mode & 1 else 0, w if mode & 2 else 0], mode)
        return self._finish_out(r, out)

    def nan_to_num(self, x, nan, posinf, neginf):
        if x.dtype.kind != "f":
            return self.clone(x)
        fi = np.finfo(x.dtype)
        nan = 0.0 if nan is None else nan
        posinf = float(fi.max) if posinf is None else posinf
        neginf = float(fi.min) if neginf is None else neginf
        r = CLArray.empty(self.rt, x.shape, x.dtype)
        if r.size:
            d, n = pack_desc(r.shape, [r.strides, x.strides], [r.offset, x.offset])
            cnp = compute_np(x.dtype)
            k = self._k("elementwise.cl", "ew_nan_to_num_s", topt(x.dtype),
                        [None, None, None, cnp, cnp, cnp])
            self._run(k, n, d, r.buf, x.buf,
                      *(scalar_of(v, x.dtype) for v in (nan, posinf, neginf)))
        return r
