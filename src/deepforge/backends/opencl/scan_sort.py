"""Scans and sorts along one axis: cumulative (cumsum, cumprod), cum_extreme (cummax, cummin),
sort, topk. Kernels: ``opencl/scan.cl`` and ``opencl/sort.cl``.
"""

from __future__ import annotations

import numpy as np

from .array import CLArray, contiguous_strides
from .desc import DT_CODES, pack_desc, topt

__all__ = ["ScanSortOps"]

_I64 = np.int64
_I32 = np.int32


def _without(seq, axis):
    return tuple(v for d, v in enumerate(seq) if d != axis)


class ScanSortOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the other mixins."""

    def _scan(self, op, x, axis, out_dtype, with_idx):
        if x.ndim == 0:
            x = x.view((1,), (1,), x.offset)
            axis = 0
            squeeze = True
        else:
            squeeze = False
        out = CLArray.empty(self.rt, x.shape, out_dtype)
        iout = CLArray.empty(self.rt, x.shape, np.int64) if with_idx else None
        if x.size:
            n = x.shape[axis]
            lines = x.size // n
            lshape = _without(x.shape, axis)
            ost = _without(out.strides, axis)
            d, _ = pack_desc(lshape, [ost, _without(x.strides, axis), ost], [0, x.offset, 0])
            acc = self._acc(out_dtype)
            opts = (f"-DTIN={DT_CODES[x.dtype]} -DTOUT={DT_CODES[np.dtype(out_dtype)]} "
                    f"-DACC={acc}")
            k = self.rt.kernel("scan.cl", "scan_lines", opts,
                               [None, _I64, _I64, _I64, None, None, None, _I32])
            g, ls = self.rt.range_1d(lines, work=x.size)
            self.rt.launch(k, g, ls, d, n, out.strides[axis], x.strides[axis], out.buf, x.buf,
                           (iout if with_idx else out).buf, op)
        if squeeze:
            out = out.view((), (), 0)
            iout = iout.view((), (), 0) if with_idx else None
        return out, iout

    def cumulative(self, op, x, axis, dtype):
        code = {"cumsum": 0, "cumprod": 1}.get(op)
        if code is None:
            raise KeyError(op)
        return self._scan(code, x, axis, np.dtype(dtype), False)[0]

    def cum_extreme(self, op, x, axis):
        return self._scan(2 if op == "cummax" else 3, x, axis, x.dtype, True)

    # -- sort ----------------------------------------------------------------------------------
    def sort(self, x, axis, descending, stable):
        if x.ndim == 0:
            v, i = self.sort(x.view((1,), (1,), x.offset), 0, descending, stable)
            return v.view((), (), 0), i.view((), (), 0)
        vals = CLArray.empty(self.rt, x.shape, x.dtype)
        iout = CLArray.empty(self.rt, x.shape, np.int64)
        if x.size == 0:
            return vals, iout
        n = x.shape[axis]
        other = _without(x.shape, axis)
        lines = x.size // n
        P = 1 << (n - 1).bit_length()
        keys = CLArray.empty(self.rt, (lines, P), x.dtype)
        idxw = CLArray.empty(self.rt, (lines, P), np.int64)
        if P > n:  # pad slots: index n (sorts last) and a defined key
            self._fill(idxw, n)
            self._fill(keys, 0)
        it_shape = other + (n,)
        ks = contiguous_strides(other + (P,))
        xs = _without(x.strides, axis) + (x.strides[axis],)
        opts = topt(x.dtype)
        d, cnt = pack_desc(it_shape, [ks, ks, xs], [0, 0, x.offset])
        k = self.rt.kernel("sort.cl", "sort_init", opts, [None, _I64, None, None, None])
        g, ls = self.rt.range_1d(cnt)
        self.rt.launch(k, g, ls, d, n, keys.buf, idxw.buf, x.buf)
        if P > 1:
            self._sort_network(keys, idxw, lines, P, n, int(bool(descending)), opts)
        vs = _without(vals.strides, axis) + (vals.strides[axis],)
        d, cnt = pack_desc(it_shape, [vs, vs, ks, ks], [0, 0, 0, 0])
        k = self.rt.kernel("sort.cl", "sort_finish", opts, [None, None, None, None, None])
        g, ls = self.rt.range_1d(cnt)
        self.rt.launch(k, g, ls, d, vals.buf, iout.buf, keys.buf, idxw.buf)
        return vals, iout

    # slots per sort_block block at most: on CPUs what fits in a core's L2 cache (16384 keys
    # and indices are 192 KiB for float32), on GPUs what the kernel's local arrays hold
    # (SORT_BLOCK in sort.cl)
    sort_block_slots = {"cpu": 16384, "gpu": 1024}

    def _sort_network(self, keys, idxw, lines, P, n, desc, opts):
        """The bitonic network over ``lines`` padded lines of ``P`` slots: stages whose pairs
        are ``bs`` or more apart one launch each (sort_step), the rest a block at a time
        (sort_block), so a line of 2^18 slots takes 15 launches on CPUs (45 on GPUs) instead
        of 171."""
        rt = self.rt
        bs = min(P, self.sort_block_slots["cpu" if rt.is_cpu else "gpu"])
        if rt.is_cpu:  # smaller blocks where there would be too few for every core
            while bs > 1024 and lines * P // bs < 4 * rt.compute_units:
                bs //= 2
        step = rt.kernel("sort.cl", "sort_step", opts,
                         [_I64, _I64, _I64, _I64, _I64, None, None, _I32])
        block = rt.kernel("sort.cl", "sort_block", opts,
                          [_I64, _I64, _I64, _I64, _I64, _I64, _I64, None, None, _I32])
        pairs = lines * P // 2
        gs, lss = rt.range_1d(pairs)
        nblocks = lines * P // bs
        if rt.is_cpu:  # a work-item per block, enough groups for every core
            gb, lsb = rt.range_1d(nblocks, lsize=1, work=nblocks * bs * 64)
        else:  # a work-group per block
            lw = min(bs // 2, 256, rt.max_work_group_size)
            gb, lsb = (nblocks * lw,), (lw,)

        def blocks(k_lo, k_hi, j0):
            rt.launch(block, gb, lsb, nblocks, P, n, bs, k_lo, k_hi, j0, keys.buf, idxw.buf,
                      desc)

        blocks(2, bs, 1)  # every stage up to kk = bs stays inside a block
        kk = 2 * bs
        while kk <= P:
            j = kk // 2
            while j >= bs:
                rt.launch(step, gs, lss, pairs, P, n, kk, j, keys.buf, idxw.buf, desc)
                j //= 2
            blocks(kk, kk, bs // 2)
            kk *= 2

    def topk(self, x, k, axis, largest, sorted_):
        vals, idx = self.sort(x, axis, largest, True)
        if x.ndim == 0:
            return vals, idx
        key = tuple(slice(0, k) if d == axis else slice(None) for d in range(x.ndim))
        return self.clone(self.getitem_basic(vals, key)), self.clone(self.getitem_basic(idx, key))
