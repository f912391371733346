"""Vision-layer kernels on CLArrays, under the CPU backend's primitive names: im2col/col2im
(``opencl/conv.cl``), max/avg pooling and their backwards (``opencl/pool.cl``), batch-norm
and layer-norm forward/backward (``opencl/norm.cl``). ``deepforge.ops.conv`` / ``pooling`` /
``normalization`` look them up by name and fall back to their reference compositions on a
backend without them. Spatial arguments are per-dim tuples of 1-3 entries.
"""

from __future__ import annotations

import numpy as np

from .array import CLArray
from .desc import topt

__all__ = ["VisionOps"]

_I64 = np.int64
_I32 = np.int32
_GEOM = [_I32] * 18


def _t3(t, fill):
    return (fill,) * (3 - len(t)) + tuple(int(v) for v in t)


def _geom(in_sp, k, d, p, s, o):
    return [*_t3(in_sp, 1), *_t3(k, 1), *_t3(d, 1), *_t3(p, 0), *_t3(s, 1), *_t3(o, 1)]


def _prod(t):
    n = 1
    for v in t:
        n *= int(v)
    return n


class VisionOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the other mixins."""

    def _cl_dense(self, x, dtype=None):
        """x as a C-contiguous array of ``dtype`` starting at element 0 of its buffer."""
        if dtype is not None and x.dtype != dtype:
            return self.astype(x, dtype)
        return x if x.is_contiguous and x.offset == 0 else self.clone(x)

    def _cl_vec(self, v, dtype, n):
        """A contiguous (n,) operand, or a 1-element placeholder buffer when v is None."""
        if v is None:
            return CLArray.empty(self.rt, (1,), dtype)
        return self._cl_dense(v, dtype)

    def _cl_wg(self):
        rt = self.rt
        ls = 16 if rt.is_cpu else min(256, rt.max_work_group_size)
        return 1 << (ls.bit_length() - 1)

    # -- convolution data movement -------------------------------------------------------------
    def im2col(self, x, in_sp, k, d, p, s, o):
        x = self._cl_dense(x)
        N, C = x.shape[:2]
        K, L = _prod(k), _prod(o)
        cols = CLArray.empty(self.rt, (N, C * K, L), x.dtype)
        if cols.size:
            kern = self.rt.kernel("conv.cl", "im2col", topt(x.dtype),
                                  [_I64, None, _I64, None, _I64] + _GEOM)
            # rows of ow columns on CPU devices, single elements on GPUs (see conv.cl)
            n = cols.size // _t3(o, 1)[2] if self.rt.is_cpu else cols.size
            g, ls = self.rt.range_1d(n, work=cols.size)
            self.rt.launch(kern, g, ls, n, cols.buf, cols.offset, x.buf, x.offset,
                           *_geom(in_sp, k, d, p, s, o))
        return cols

    def col2im(self, cols, channels, in_sp, k, d, p, s, o):
        cols = self._cl_dense(cols)
        N = cols.shape[0]
        out = CLArray.empty(self.rt, (N, channels) + tuple(in_sp), cols.dtype)
        if out.size:
            kern = self.rt.kernel("conv.cl", "col2im", topt(cols.dtype),
                                  [_I64, None, _I64, None, _I64] + _GEOM)
            n = out.size // _t3(in_sp, 1)[2] if self.rt.is_cpu else out.size
            g, ls = self.rt.range_1d(n, work=out.size * _prod(k))
            self.rt.launch(kern, g, ls, n, out.buf, out.offset, cols.buf, cols.offset,
                           *_geom(in_sp, k, d, p, s, o))
        return out

    # -- pooling -------------------------------------------------------------------------------
    def _cl_pool_inside(self, in_sp, k, d, p, s, o):
        """Whether max_pool_rows applies: a CPU device, 1-D/2-D planes, no padding, and every
        window (ceil_mode included) inside the plane."""
        if not self.rt.is_cpu or len(in_sp) > 2 or any(p):
            return False
        H, W = _t3(in_sp, 1)[1:]
        kh, kw = _t3(k, 1)[1:]
        dh, dw = _t3(d, 1)[1:]
        sh, sw = _t3(s, 1)[1:]
        oh, ow = _t3(o, 1)[1:]
        return (oh - 1) * sh + (kh - 1) * dh < H and (ow - 1) * sw + (kw - 1) * dw < W

    def max_pool(self, x, in_sp, k, d, p, s, o):
        x = self._cl_dense(x)
        N, C = x.shape[:2]
        y = CLArray.empty(self.rt, (N, C) + tuple(o), x.dtype)
        idx = CLArray.empty(self.rt, (N, C) + tuple(o), np.int64)
        if y.size and self._cl_pool_inside(in_sp, k, d, p, s, o):
            # windows entirely inside 2-D planes: the row-wise kernel (see pool.cl)
            H, W = _t3(in_sp, 1)[1:]
            rows = N * C * _t3(o, 1)[1]
            kern = self.rt.kernel("pool.cl", "max_pool_rows", topt(x.dtype),
                                  [_I64, None, None, None, _I64] + [_I32] * 10)
            g, ls = self.rt.range_1d(rows, work=y.size * _prod(k))
            self.rt.launch(kern, g, ls, rows, y.buf, idx.buf, x.buf, x.offset, H, W,
                           *_t3(k, 1)[1:], *_t3(d, 1)[1:], *_t3(s, 1)[1:], *_t3(o, 1)[1:])
        elif y.size:
            kern = self.rt.kernel("pool.cl", "max_pool", topt(x.dtype),
                                  [_I64, None, None, None, _I64] + _GEOM)
            g, ls = self.rt.range_1d(y.size, work=y.size * _prod(k))
            self.rt.launch(kern, g, ls, y.size, y.buf, idx.buf, x.buf, x.offset,
                           *_geom(in_sp, k, d, p, s, o))
        return y, idx

    def max_pool_backward(self, g, idx, in_sp):
        g = self._cl_dense(g)
        idx = self._cl_dense(idx, np.int64)
        N, C = g.shape[:2]
        L, P = _prod(g.shape[2:]), _prod(in_sp)
        out = CLArray.empty(self.rt, (N, C) + tuple(in_sp), g.dtype)
        if out.size:
            kern = self.rt.kernel("pool.cl", "plane_scatter_add", topt(g.dtype),
                                  [_I64, _I64, _I64, None, None, _I64, None, _I64])
            gs, ls = self.rt.range_1d(N * C, work=N * C * (L + P))
            self.rt.launch(kern, gs, ls, N * C, L, P, out.buf, g.buf, g.offset, idx.buf,
                           idx.offset)
        return out

    def avg_pool(self, x, in_sp, k, p, s, o, count_include_pad, divisor_override):
        x = self._cl_dense(x)
        N, C = x.shape[:2]
        y = CLArray.empty(self.rt, (N, C) + tuple(o), x.dtype)
        if y.size:
            kern = self.rt.kernel("pool.cl", "avg_pool", topt(x.dtype),
                                  [_I64, None, None, _I64, _I32, _I32] + _GEOM)
            g, ls = self.rt.range_1d(y.size, work=y.size * _prod(k))
            self.rt.launch(kern, g, ls, y.size, y.buf, x.buf, x.offset, int(count_include_pad),
                           int(divisor_override or 0), *_geom(in_sp, k, (1,) * len(k), p, s, o))
        return y

    def avg_pool_backward(self, g, in_sp, k, p, s, o, count_include_pad, divisor_override):
        g = self._cl_dense(g)
        N, C = g.shape[:2]
        gx = CLArray.empty(self.rt, (N, C) + tuple(in_sp), g.dtype)
        if gx.size:
            kern = self.rt.kernel("pool.cl", "avg_pool_backward", topt(g.dtype),
                                  [_I64, None, None, _I64, _I32, _I32] + _GEOM)
            gs, ls = self.rt.range_1d(gx.size, work=gx.size * _prod(k))
            self.rt.launch(kern, gs, ls, gx.size, gx.buf, g.buf, g.offset,
                           int(count_include_pad), int(divisor_override or 0),
                           *_geom(in_sp, k, (1,) * len(k), p, s, o))
        return gx

    # -- normalisation -------------------------------------------------------------------------
    def _cl_norm_kernel(self, name, dtype, dts):
        return self.rt.kernel("norm.cl", name, f"{topt(dtype)} -DLS={self._cl_wg()}", dts)

    def _cl_wide(self):
        return np.float64 if self.rt.has_fp64 else np.float32

    def _cl_parts(self, nseg, seg_len):
        """Parts per contiguous segment for the CPU-device norm kernels: enough work-items to
        share the work evenly between the cores, none shorter than ~1024 elements."""
        return max(1, min(-(-256 // max(nseg, 1)), -(-seg_len // 1024)))

    def _cl_bn_cpu(self, N, C, S, x, g, mean, mode, o1, o2, o3, eps):
        """bn_part_sums + bn_finish: statistics (mode 0) or backward sums (mode 1)."""
        dt, wide = x.dtype, self._cl_wide()
        P = self._cl_parts(N * C, S)
        part = CLArray.empty(self.rt, (N * C * P * 2,), wide)
        k = self._cl_norm_kernel("bn_part_sums", dt, [_I64] * 4 + [None, _I64, None, _I64,
                                                                 None, _I32, None])
        gs, ls = self.rt.range_1d(N * C * P, work=N * C * S)
        self.rt.launch(k, gs, ls, N, C, S, P, x.buf, x.offset, g.buf, g.offset, mean.buf, mode,
                       part.buf)
        k = self._cl_norm_kernel("bn_finish", dt, [_I64] * 4 + [None, None, _I64, _I32, None,
                                                              None, None, wide])
        gs, ls = self.rt.range_1d(C, work=C * N * P)
        self.rt.launch(k, gs, ls, N, C, S, P, part.buf, x.buf, x.offset, mode, o1.buf, o2.buf,
                       o3.buf, wide(eps))

    def _cl_bn_apply_cpu(self, N, C, S, y, x, g, mean, invstd, w, b, gw, affine, mode):
        P = self._cl_parts(N * C, S)
        k = self._cl_norm_kernel("bn_apply_parts", y.dtype,
                                 [_I64] * 4 + [None, None, _I64, None, _I64] + [None] * 5
                                 + [_I32, _I32])
        gs, ls = self.rt.range_1d(N * C * P, work=N * C * S)
        self.rt.launch(k, gs, ls, N, C, S, P, y.buf, x.buf, x.offset, g.buf, g.offset, mean.buf,
                       invstd.buf, w.buf, b.buf, gw.buf, int(affine), mode)

    def batch_norm_train(self, x, weight, bias, eps):
        x = self._cl_dense(x)
        N, C = x.shape[:2]
        S = x.size // (N * C)
        dt = x.dtype
        mean, invstd, var = (CLArray.empty(self.rt, (C,), dt) for _ in range(3))
        y = CLArray.empty(self.rt, x.shape, dt)
        w, b = self._cl_vec(weight, dt, C), self._cl_vec(bias, dt, C)
        if weight is not None and bias is None:
            b = self.zeros((C,), dt)
        if self.rt.is_cpu:
            if x.size:
                self._cl_bn_cpu(N, C, S, x, x, x, 0, mean, invstd, var, eps)
                self._cl_bn_apply_cpu(N, C, S, y, x, x, mean, invstd, w, b, x,
                                      weight is not None, 0)
            return y, mean, invstd, var
        ls = self._cl_wg()
        k = self._cl_norm_kernel("bn_stats", dt, [_I64, _I64, _I64, None, _I64, None, None, None,
                                               self._cl_wide()])
        self.rt.launch(k, (C * ls,), (ls,), N, C, S, x.buf, x.offset, mean.buf, invstd.buf,
                       var.buf, self._cl_wide()(eps))
        k = self._cl_norm_kernel("bn_apply", dt, [_I64, _I64, _I64, None, None, _I64, None, None,
                                               None, None, _I32])
        g, l1 = self.rt.range_1d(x.size)
        self.rt.launch(k, g, l1, x.size, C, S, y.buf, x.buf, x.offset, mean.buf, invstd.buf,
                       w.buf, b.buf, int(weight is not None))
        return y, mean, invstd, var

    def batch_norm_backward(self, g, x, weight, mean, invstd, train, need_gx):
        x = self._cl_dense(x)
        dt = x.dtype
        g = self._cl_dense(g, dt)
        mean, invstd = self._cl_dense(mean, dt), self._cl_dense(invstd, dt)
        N, C = x.shape[:2]
        S = x.size // (N * C)
        gw, gb = CLArray.empty(self.rt, (C,), dt), CLArray.empty(self.rt, (C,), dt)
        if self.rt.is_cpu:
            if not x.size:
                return (CLArray.empty(self.rt, x.shape, dt) if need_gx else None), gw, gb
            self._cl_bn_cpu(N, C, S, x, g, mean, 1, gw, gb, invstd, 0.0)
            gx = None
            if need_gx:
                gx = CLArray.empty(self.rt, x.shape, dt)
                w = self._cl_vec(weight, dt, C)
                self._cl_bn_apply_cpu(N, C, S, gx, x, g, mean, invstd, w, gb, gw,
                                      weight is not None, 1 if train else 2)
            return gx, gw, gb
        ls = self._cl_wg()
        k = self._cl_norm_kernel("bn_bwd_reduce", dt, [_I64, _I64, _I64, None, _I64, None, _I64,
                                                    None, None, None, None])
        self.rt.launch(k, (C * ls,), (ls,), N, C, S, g.buf, g.offset, x.buf, x.offset,
                       mean.buf, invstd.buf, gw.buf, gb.buf)
        gx = None
        if need_gx:
            gx = CLArray.empty(self.rt, x.shape, dt)
            w = self._cl_vec(weight, dt, C)
            k = self._cl_norm_kernel("bn_bwd_apply", dt, [_I64, _I64, _I64, _I64, None, None, _I64,
                                                       None, _I64, None, None, None, None, None,
                                                       _I32, _I32])
            gs, l1 = self.rt.range_1d(x.size)
            self.rt.launch(k, gs, l1, x.size, C, S, N * S, gx.buf, g.buf, g.offset, x.buf,
                           x.offset, w.buf, mean.buf, invstd.buf, gw.buf, gb.buf,
                           int(weight is not None), int(bool(train)))
        return gx, gw, gb

    def layer_norm(self, x, weight, bias, eps):
        x = self._cl_dense(x)
        M, D = x.shape
        dt = x.dtype
        mean, rstd = CLArray.empty(self.rt, (M,), dt), CLArray.empty(self.rt, (M,), dt)
        y = CLArray.empty(self.rt, (M, D), dt)
        if M * D == 0:
            return y, mean, rstd
        if self.rt.is_cpu:
            w, b = self._cl_vec(weight, dt, D), self._cl_vec(bias, dt, D)
            k = self._cl_norm_kernel("ln_fwd_rows", dt, [_I64, _I64, None, None, _I64, None,
                                                      None, None, None, _I32, _I32,
                                                      self._cl_wide()])
            gs, l1 = self.rt.range_1d(M, work=M * D)
            self.rt.launch(k, gs, l1, M, D, y.buf, x.buf, x.offset, mean.buf, rstd.buf, w.buf,
                           b.buf, int(weight is not None), int(bias is not None),
                           self._cl_wide()(eps))
            return y, mean, rstd
        ls = self._cl_wg()
        k = self._cl_norm_kernel("ln_stats", dt, [_I64, None, _I64, None, None, self._cl_wide()])
        self.rt.launch(k, (M * ls,), (ls,), D, x.buf, x.offset, mean.buf, rstd.buf,
                       self._cl_wide()(eps))
        w, b = self._cl_vec(weight, dt, D), self._cl_vec(bias, dt, D)
        k = self._cl_norm_kernel("ln_apply", dt, [_I64, _I64, None, None, _I64, None, None, None,
                                               None, _I32, _I32])
        g, l1 = self.rt.range_1d(M * D)
        self.rt.launch(k, g, l1, M * D, D, y.buf, x.buf, x.offset, mean.buf, rstd.buf, w.buf,
                       b.buf, int(weight is not None), int(bias is not None))
        return y, mean, rstd

    def layer_norm_backward(self, g, x, weight, mean, rstd, need_gx, need_gwb):
        x = self._cl_dense(x)
        dt = x.dtype
        g = self._cl_dense(g, dt)
        mean, rstd = self._cl_dense(mean, dt), self._cl_dense(rstd, dt)
        M, D = x.shape
        gx = gw = gb = None
        cpu = self.rt.is_cpu
        if need_gx:
            gx = CLArray.empty(self.rt, (M, D), dt)
            if M * D:
                w = self._cl_vec(weight, dt, D)
                args = (gx.buf, g.buf, g.offset, x.buf, x.offset, w.buf, int(weight is not None),
                        mean.buf, rstd.buf)
                dts = [None, None, _I64, None, _I64, None, _I32, None, None]
                if cpu:
                    k = self._cl_norm_kernel("ln_bwd_rows_cpu", dt, [_I64, _I64] + dts)
                    gs, l1 = self.rt.range_1d(M, work=M * D)
                    self.rt.launch(k, gs, l1, M, D, *args)
                else:
                    ls = self._cl_wg()
                    k = self._cl_norm_kernel("ln_bwd_rows", dt, [_I64] + dts)
                    self.rt.launch(k, (M * ls,), (ls,), D, *args)
        if need_gwb:
            gw, gb = CLArray.empty(self.rt, (D,), dt), CLArray.empty(self.rt, (D,), dt)
            if D and cpu:
                self._cl_ln_cols_cpu(M, D, gw, gb, g, x, mean, rstd)
            elif D:
                k = self._cl_norm_kernel("ln_bwd_cols", dt, [_I64, _I64, None, None, None, _I64,
                                                          None, _I64, None, None])
                gs, l1 = self.rt.range_1d(D, work=M * D)
                self.rt.launch(k, gs, l1, M, D, gw.buf, gb.buf, g.buf, g.offset, x.buf, x.offset,
                               mean.buf, rstd.buf)
        return gx, gw, gb

    def _cl_ln_cols_cpu(self, M, D, gw, gb, g, x, mean, rstd):
        """gw, gb as partial sums over row parts (16-column blocks) and their total."""
        dt, wide = x.dtype, self._cl_wide()
        nb = -(-D // 16)
        P = max(1, min(-(-256 // nb), -(-M // 64)))
        part = CLArray.empty(self.rt, (2 * P * D,), wide)
        k = self._cl_norm_kernel("ln_cols_parts", dt, [_I64, _I64, _I64, None, None, _I64, None,
                                                    _I64, None, None])
        gs, l1 = self.rt.range_1d(nb * P, work=M * D)
        self.rt.launch(k, gs, l1, M, D, P, part.buf, g.buf, g.offset, x.buf, x.offset, mean.buf,
                       rstd.buf)
        k = self._cl_norm_kernel("ln_cols_finish", dt, [_I64, _I64, None, None, None])
        gs, l1 = self.rt.range_1d(D, work=D * P)
        self.rt.launch(k, gs, l1, D, P, part.buf, gw.buf, gb.buf)
