"""Indexing primitives on CLArrays: index_select, gather, scatter_ (assign/add/multiply/amax/
amin), index_add_/index_copy_/index_fill_, numpy-style advanced indexing (getitem_advanced,
setitem, index_put_), nonzero, masked_fill, embedding_backward. Kernels: ``opencl/index.cl``.

Every op is one gather or one scatter over an iteration shape: the moving operand's offset is
its strided position plus ``lin_mul * index`` read from an index array broadcast over the
iteration shape. Advanced indexing with several index arrays first folds them into one array
of element offsets. Scatters with few elements run on one work-item in index order (numpy's
last-write-wins, exact sums); larger ones run in parallel with atomic read-modify-writes.

On CPU devices index_select and index_add_ over views whose dims around the axis merge into
one outer and one inner stride use whole-row kernels instead: a per-row copy, and an
atomic-free add where each work-item owns a block of destination rows and columns and applies
the source rows in index order (deterministic sums, no compare-exchange loops).
"""

from __future__ import annotations

import numpy as np

from .array import CLArray
from .desc import (
    RAW_CODES,
    broadcast_shape,
    broadcast_strides,
    pack_desc,
    raw_bits,
    scalar_of,
    topt,
)

__all__ = ["IndexOps"]

_I64 = np.int64
_I32 = np.int32
_BOOL = np.dtype(np.bool_)
_REDUCE = {None: 0, "add": 1, "sum": 1, "multiply": 2, "prod": 2, "amax": 3, "amin": 4}
_SERIAL_ASSIGN = 1 << 16
_SERIAL_REDUCE = 1 << 12


def _merge(shape, strides):
    """(size, stride) of dims that step through memory as one strided dim, else None."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    size = 1
    for n, _ in dims:
        size *= n
    if not dims or size == 0:
        return size, 0
    for (_, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != n1 * s1:
            return None
    return size, dims[-1][1]


def _split3(x, axis):
    """x as [outer, axis, inner]: ((outer, stride), (inner, stride)) or None."""
    outer = _merge(x.shape[:axis], x.strides[:axis])
    inner = _merge(x.shape[axis + 1:], x.strides[axis + 1:])
    return None if outer is None or inner is None else (outer, inner)


def _raw_opts(dtype) -> str:
    code = RAW_CODES[np.dtype(dtype).itemsize]
    return f"-DT={code}"


class IndexOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the other mixins."""

    # -- the two kernels -------------------------------------------------------------------------
    def _gather(self, shape, src, src_strides, src_off, lin, lin_strides, lin_off, lin_mul, wrap):
        out = CLArray.empty(self.rt, shape, src.dtype)
        if out.size == 0:
            return out
        d, n = pack_desc(shape, [out.strides, src_strides, lin_strides], [0, src_off, lin_off])
        k = self.rt.kernel("index.cl", "idx_gather", _raw_opts(src.dtype),
                           [None, None, None, None, _I64, _I64])
        g, ls = self.rt.range_1d(n)
        self.rt.launch(k, g, ls, d, out.buf, src.buf, lin.buf, lin_mul, wrap)
        return out

    def _scatter(self, shape, dst, dst_strides, dst_off, val, lin, lin_strides, lin_off, lin_mul,
                 wrap, red=0, alpha=1):
        n = 1
        for s in shape:
            n *= s
        if n == 0:
            return
        if isinstance(val, CLArray):
            if val.dtype != dst.dtype:
                val = self.astype(val, dst.dtype)
            vst = broadcast_strides(val.shape, val.strides, shape)
            voff, vbuf, scalar, sval = val.offset, val.buf, 0, 0
        else:
            vst, voff, vbuf, scalar, sval = (0,) * len(shape), 0, dst.buf, 1, val
        if red == 0:
            opts = _raw_opts(dst.dtype)
            sval = raw_bits(sval, dst.dtype) if scalar else 0
            cnp = {1: np.int64, 2: np.uint16, 4: np.uint32, 8: np.uint64}[dst.itemsize]
        else:
            opts = topt(dst.dtype)
            from .desc import compute_np

            cnp = compute_np(dst.dtype)
            sval = scalar_of(sval, dst.dtype) if scalar else 0
        serial = n <= (_SERIAL_ASSIGN if red == 0 else _SERIAL_REDUCE)
        if red and dst.itemsize == 8 and not self.rt.has_int64_atomics:
            serial = True
        d, _ = pack_desc(shape, [dst_strides, vst, lin_strides], [dst_off, voff, lin_off])
        k = self.rt.kernel("index.cl", "idx_scatter", opts,
                           [None, None, None, None, _I64, _I64, cnp, cnp, _I32, _I32, _I32])
        if serial:
            g, ls = (1,), (1,)
        else:
            g, ls = self.rt.range_1d(n)
        a = cnp(alpha) if red else cnp(1)
        self.rt.launch(k, g, ls, d, dst.buf, vbuf, lin.buf, lin_mul, wrap, cnp(sval), a, scalar,
                       red, 0 if serial else 1)

    def _long(self, idx):
        if not isinstance(idx, CLArray):
            return self.from_numpy(np.asarray(idx, dtype=np.int64))
        return idx if idx.dtype == np.int64 else self.astype(idx, np.int64)

    # -- whole-row kernels (CPU devices) ---------------------------------------------------------
    def _rows_gather(self, x, axis, idx):
        parts = _split3(x, axis) if self.rt.is_cpu and idx.ndim == 1 else None
        if parts is None:
            return None
        (outer, s_out), (inner, s_in) = parts
        m = idx.size
        out = CLArray.empty(self.rt, x.shape[:axis] + (m,) + x.shape[axis + 1:], x.dtype)
        total = outer * m * inner
        if total == 0:
            return out
        k = self.rt.kernel("index.cl", "idx_rows_gather", _raw_opts(x.dtype),
                           [None, None, None] + [_I64] * 10)
        g, ls = self.rt.range_1d(total)
        self.rt.launch(k, g, ls, out.buf, x.buf, idx.buf, x.offset, idx.offset, outer, m, inner,
                       s_out, x.strides[axis], s_in, idx.strides[0], x.shape[axis])
        return out

    def _rows_add(self, x, axis, idx, src, alpha):
        """index_add_ without atomics; False when the layout does not fit (caller falls back)."""
        if not (self.rt.is_cpu and idx.ndim == 1 and isinstance(src, CLArray)):
            return False
        dparts, sparts = _split3(x, axis), _split3(src, axis)
        if dparts is None or sparts is None:
            return False
        (outer, d_out), (inner, d_in) = dparts
        (_, s_out), (_, s_in) = sparts
        n, rows = idx.size, x.shape[axis]
        d_ax = x.strides[axis]
        if (d_out == 0 < outer - 1) or (d_in == 0 < inner - 1) or (d_ax == 0 < rows - 1):
            return False  # a broadcast destination: blocks would alias, keep the atomic path
        if outer * n * inner == 0:
            return True
        # One disjoint block per core: outer slices first, then blocks of destination rows
        # (a block's rows stay cache-resident), then column blocks kept >= 16 wide so the
        # inner loop vectorises. Every block rescans all n indices (a mispredicted branch
        # each), so more blocks than cores measured slower, and small problems use one.
        target = 1 if outer * n * inner < 4096 else self.rt.compute_units
        rb = max(1, min(rows, -(-target // outer)))
        cb = max(1, min(-(-inner // 16), -(-target // (outer * rb))))
        units = outer * rb * cb
        from .desc import compute_np

        cnp = compute_np(x.dtype)
        k = self.rt.kernel("index.cl", "idx_rows_add", topt(x.dtype),
                           [None, None, None] + [_I64] * 16 + [cnp])
        # CPU drivers run a work-group on one thread: groups of 1 until there are plenty
        ls = 8 if units >= 64 * self.rt.compute_units else 1
        self.rt.launch(k, (-(-units // ls) * ls,), (ls,), x.buf, src.buf, idx.buf, x.offset,
                       src.offset, idx.offset, outer, n, inner, rows, rb, cb, d_out, d_ax, d_in,
                       s_out, src.strides[axis], s_in, idx.strides[0], cnp(alpha))
        return True

    def check_index(self, idx, low, high, exc, message, ignore=None, first=False):
        """The CPU backend's ``check_index``, reported at the host's next wait for the device
        instead of now (index_checks.py); ``first`` is not honoured (some bad index is named)."""
        self.rt.index_checks.enqueue(idx, low, high, exc, message, ignore)

    def check_values(self, x, low, high, exc, message, nan_ok=False):
        """The CPU backend's ``check_values``, reported at the host's next wait for the device
        (index_checks.py)."""
        self.rt.index_checks.enqueue_values(x, low, high, exc, message, nan_ok)

    # -- axis ops ------------------------------------------------------------------------------
    def index_select(self, x, axis, idx):
        idx = self._long(idx)
        if x.ndim == 0:
            x, axis = x.view((1,), (0,), x.offset), 0
        fast = self._rows_gather(x, axis, idx)
        if fast is not None:
            return fast
        shape = x.shape[:axis] + (idx.size,) + x.shape[axis + 1:]
        sst = tuple(0 if dd == axis else s for dd, s in enumerate(x.strides))
        ist = tuple(idx.strides[0] if dd == axis else 0 for dd in range(x.ndim))
        return self._gather(shape, x, sst, x.offset, idx, ist, idx.offset, x.strides[axis],
                            x.shape[axis])

    def gather(self, x, axis, idx):
        idx = self._long(idx)
        if x.ndim == 0:
            xs = (0,) * idx.ndim
            return self._gather(idx.shape, x, xs, x.offset, idx, idx.strides, idx.offset, 0, 1)
        sst = tuple(0 if dd == axis else s for dd, s in enumerate(x.strides))
        return self._gather(idx.shape, x, sst, x.offset, idx, idx.strides, idx.offset,
                            x.strides[axis], x.shape[axis])

    def scatter_(self, x, axis, idx, src, reduce=None):
        idx = self._long(idx)
        red = _REDUCE.get(reduce)
        if red is None:
            raise ValueError(f"unknown reduce {reduce!r}")
        if x.ndim == 0:
            dst_st, mul, wrap = (0,) * idx.ndim, 0, 1
        else:
            dst_st = tuple(0 if dd == axis else s for dd, s in enumerate(x.strides))
            mul, wrap = x.strides[axis], x.shape[axis]
        if isinstance(src, CLArray) and src.shape != idx.shape:
            src = src.view(idx.shape, src.strides[:idx.ndim], src.offset) if src.ndim else src
        self._scatter(idx.shape, x, dst_st, x.offset, src, idx, idx.strides, idx.offset, mul, wrap,
                      red)
        return x

    def scatter_add_(self, x, axis, idx, src):
        return self.scatter_(x, axis, idx, src, "add")

    def _index_axis(self, x, axis, idx, val, red, alpha=1):
        idx = self._long(idx)
        if x.ndim == 0:
            x, axis = x.view((1,), (0,), x.offset), 0
            if isinstance(val, CLArray):
                val = val.view((1,) * max(val.ndim, 1), (0,) * max(val.ndim, 1), val.offset)
        shape = x.shape[:axis] + (idx.size,) + x.shape[axis + 1:]
        dst = tuple(0 if dd == axis else s for dd, s in enumerate(x.strides))
        ist = tuple(idx.strides[0] if dd == axis else 0 for dd in range(x.ndim))
        if isinstance(val, CLArray) and val.shape != shape:
            val = self.expand(val, shape)
        if red == 1 and isinstance(val, CLArray):
            if val.dtype != x.dtype:
                val = self.astype(val, x.dtype)
            if self._rows_add(x, axis, idx, val, alpha):
                return x
        self._scatter(shape, x, dst, x.offset, val, idx, ist, idx.offset, x.strides[axis],
                      x.shape[axis], red, alpha)
        return x

    def index_add_(self, x, axis, idx, src, alpha):
        return self._index_axis(x, axis, idx, src, 1, alpha)

    def index_copy_(self, x, axis, idx, src):
        return self._index_axis(x, axis, idx, src, 0)

    def index_fill_(self, x, axis, idx, value):
        return self._index_axis(x, axis, idx, value, 0)

    def masked_fill(self, x, mask, value):
        return self.where(mask, value, x, x.dtype)

    def embedding_backward(self, idx, gout, num_weights, padding_idx):
        dim = gout.shape[-1]
        flat = self._long(self.reshape(idx, (idx.size,)))
        g2 = self.reshape(gout, (flat.size, dim))
        gw = self.zeros((num_weights, dim), gout.dtype)
        self._index_axis(gw, 0, flat, g2, 1)
        if padding_idx is not None:
            self._fill(self.getitem_basic(gw, padding_idx), 0)
        return gw

    # -- nonzero -------------------------------------------------------------------------------
    def _flat_nonzero(self, x):
        """Flat C-order indices of the nonzero elements of x (int64, 1-D)."""
        n = x.size
        if n == 0:
            return CLArray.empty(self.rt, (0,), np.int64)
        rt = self.rt
        G = min(-(-n // 4096), 64) if rt.is_cpu else min(-(-n // 256), 4096)
        S = -(-n // G)
        d, _ = pack_desc(x.shape, [x.strides], [x.offset])
        ls = 8 if rt.is_cpu else min(64, rt.max_work_group_size)
        gs = (-(-G // ls) * ls,)
        counts = CLArray.empty(rt, (G,), np.int64)
        opts = topt(x.dtype)
        k = rt.kernel("index.cl", "nz_count", opts, [None, _I64, _I64, None, None])
        rt.launch(k, gs, (ls,), d, G, S, counts.buf, x.buf)
        c = self.to_numpy(counts)
        starts = np.zeros(G, np.int64)
        np.cumsum(c[:-1], out=starts[1:])
        total = int(c.sum())
        out = CLArray.empty(rt, (total,), np.int64)
        if total:
            sb = self.from_numpy(starts)
            k = rt.kernel("index.cl", "nz_write", opts, [None, _I64, _I64, None, None, None])
            rt.launch(k, gs, (ls,), d, G, S, sb.buf, out.buf, x.buf)
        return out

    def nonzero(self, x):
        lin = self._flat_nonzero(x)
        m = lin.size
        out = CLArray.empty(self.rt, (m, x.ndim), np.int64)
        if m == 0 or x.ndim == 0:
            return out
        inner = 1
        for dd in range(x.ndim - 1, -1, -1):
            col = out.view((m,), (x.ndim,), dd)
            q = self.binary("floordiv", lin, inner, np.int64) if inner != 1 else lin
            if dd == 0:
                self.copy_(col, q)
            else:
                self.binary("remainder", q, x.shape[dd], np.int64, out=col)
            inner *= x.shape[dd]
        return out

    # -- advanced indexing ---------------------------------------------------------------------
    def _plan(self, x, key):
        """Resolve an index into (result shape, source strides and base offset per result dim,
        offsets array and its strides) -- see module doc. None when the key is basic."""
        if not isinstance(key, tuple):
            key = (key,)
        adv = any(isinstance(k, (CLArray, np.ndarray)) for k in key)
        if not adv:
            return None
        # expand the ellipsis; bool masks consume their ndim
        consumed = 0
        for k in key:
            if k is None or k is Ellipsis:
                continue
            if isinstance(k, (CLArray, np.ndarray)) and k.dtype == _BOOL:
                consumed += k.ndim
            else:
                consumed += 1
        if consumed > x.ndim:
            raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
        items = []  # ("slice", dim, slice) | ("new",) | ("int", dim, value) | ("arr", dim, arr)
        dim = 0
        ell = False
        for k in key:
            if k is Ellipsis:
                if ell:
                    raise IndexError("an index can only have a single ellipsis ('...')")
                ell = True
                for _ in range(x.ndim - consumed):
                    items.append(("slice", dim, slice(None)))
                    dim += 1
            elif k is None:
                items.append(("new",))
            elif isinstance(k, slice):
                items.append(("slice", dim, k))
                dim += 1
            elif isinstance(k, (CLArray, np.ndarray)):
                arr = k if isinstance(k, CLArray) else self.from_numpy(np.asarray(k))
                if arr.dtype == _BOOL:
                    if arr.ndim == 0:
                        keep = bool(self.to_numpy(arr))
                        items.append(("arr", None, self.from_numpy(
                            np.zeros(1 if keep else 0, np.int64))))
                    else:
                        lin = self._flat_nonzero(arr)
                        inner = 1
                        cols = []
                        for j in range(arr.ndim - 1, -1, -1):
                            q = self.binary("floordiv", lin, inner, np.int64) if inner != 1 \
                                else lin
                            cols.append(self.binary("remainder", q, arr.shape[j], np.int64)
                                        if j else q)
                            inner *= arr.shape[j]
                        for j, c in enumerate(reversed(cols)):
                            items.append(("arr", dim + j, c))
                        dim += arr.ndim
                else:
                    items.append(("arr", dim, self._long(arr)))
                    dim += 1
            else:
                items.append(("int", dim, int(k)))
                dim += 1
        while dim < x.ndim:
            items.append(("slice", dim, slice(None)))
            dim += 1
        return self._layout(x, items)

    def _layout(self, x, items):
        base = x.offset
        fancy = [i for i, it in enumerate(items) if it[0] in ("arr", "int")]
        arrs = [it for it in items if it[0] == "arr"]
        bshape = broadcast_shape(*[a[2].shape for a in arrs]) if arrs else ()
        consec = fancy == list(range(fancy[0], fancy[-1] + 1))
        # the offsets array: one index array used as is, else the folded sum
        ints = [it for it in items if it[0] == "int"]
        for _, d, v in ints:
            base += (v + x.shape[d] if v < 0 else v) * x.strides[d]
        if len(arrs) == 1 and arrs[0][1] is not None:
            _, d, a = arrs[0]
            lin, lmul, wrap = a, x.strides[d], x.shape[d]
            lst = broadcast_strides(a.shape, a.strides, bshape)
        else:
            lin = None
            for _, d, a in arrs:
                if d is None:  # index into a new axis of size 1: contributes nothing
                    term = self.binary("mul", a, 0, np.int64)
                else:
                    # floor remainder: -n..-1 wrap to n-1..0 as they should, and an index out
                    # of range (reported by its deferred check) still lands inside the tensor
                    wrapped = self.binary("remainder", a, x.shape[d], np.int64)
                    term = self.binary("mul", wrapped, x.strides[d], np.int64)
                lin = term if lin is None else self.binary("add", lin, term, np.int64)
            lin = self.contiguous(self.expand(lin, bshape)) if lin.shape != bshape else lin
            lmul, wrap = 1, 0
            lst = lin.strides
        shape, sst, lstr = [], [], []
        placed = False
        for it in items:
            if it[0] in ("arr", "int"):
                if consec and not placed:
                    shape += bshape
                    sst += [0] * len(bshape)
                    lstr += list(lst)
                    placed = True
                continue
            if it[0] == "new":
                shape.append(1)
                sst.append(0)
                lstr.append(0)
                continue
            _, d, sl = it
            start, stop, step = sl.indices(x.shape[d])
            n = len(range(start, stop, step))
            if n:
                base += start * x.strides[d]
            shape.append(n)
            sst.append(x.strides[d] * step)
            lstr.append(0)
        if not consec:
            shape = list(bshape) + shape
            sst = [0] * len(bshape) + sst
            lstr = list(lst) + lstr
        return tuple(shape), tuple(sst), base, lin, tuple(lstr), lmul, wrap

    def getitem_advanced(self, x, key):
        plan = self._plan(x, key)
        if plan is None:
            return self.clone(self.getitem_basic(x, key))
        shape, sst, base, lin, lst, lmul, wrap = plan
        return self._gather(shape, x, sst, base, lin, lst, lin.offset, lmul, wrap)

    def _put(self, x, key, value, red):
        plan = self._plan(x, key)
        if plan is None:
            view = self.getitem_basic(x, key)
            if red:
                self.copy_(view, self.binary("add", view, value, x.dtype))
            else:
                self.copy_(view, value)
            return x
        shape, sst, base, lin, lst, lmul, wrap = plan
        if isinstance(value, CLArray):
            vshape = value.shape
            while len(vshape) > len(shape) and vshape[0] == 1:
                value = value.view(vshape[1:], value.strides[1:], value.offset)
                vshape = value.shape
            if broadcast_shape(shape, vshape) != shape:
                raise ValueError(f"shape mismatch: value array of shape {vshape} could not be "
                                 f"broadcast to indexing result of shape {shape}")
        elif isinstance(value, np.ndarray):
            value = self.from_numpy(value)
        self._scatter(shape, x, sst, base, value, lin, lst, lin.offset, lmul, wrap, red)
        return x

    def setitem(self, x, key, value):
        self._put(x, key, value, 0)

    def index_put_(self, x, key, value, accumulate):
        return self._put(x, key, value, 1 if accumulate else 0)

