# Elementwise activations (1-D contiguous; out may be x for in-place) and fused optimiser steps.
# Each kernel splits [0, n) into one 16-aligned chunk per thread and runs a vectorised C helper.

cdef enum:
    EW_RELU = 0
    EW_SIGMOID = 1
    EW_TANH = 2
    EW_GELU = 3
    EW_SILU = 4
    EW_EXP = 5
    EW_RELU_BWD = 10
    EW_GELU_BWD = 11
    EW_SILU_BWD = 12


cdef inline void _ew_range(int op, const floating* x, const floating* gy, floating* y,
                           Py_ssize_t n) noexcept nogil:
    if op == EW_RELU:
        _relu(x, y, n)
    elif op == EW_SIGMOID:
        _sigmoid(x, y, n)
    elif op == EW_TANH:
        _tanh(x, y, n)
    elif op == EW_GELU:
        _gelu(x, y, n)
    elif op == EW_SILU:
        _silu(x, y, n)
    elif op == EW_EXP:
        _exp(x, y, n)
    elif op == EW_RELU_BWD:
        _relu_bwd(x, gy, y, n)
    elif op == EW_GELU_BWD:
        _gelu_bwd(x, gy, y, n)
    else:
        _silu_bwd(x, gy, y, n)


cdef int _ew(str fname, int op, const floating[::1] x, const floating* gy, Py_ssize_t ngy,
             floating[::1] out) except -1:
    cdef Py_ssize_t n = x.shape[0], c, lo
    _check1(fname, "out", n, out.shape[0])
    if op >= EW_RELU_BWD:
        _check1(fname, "grad_output", n, ngy)
    if n == 0:
        return 0
    # transcendental ops are several times the work of a copy: go parallel earlier
    cdef int nch = _nthreads if _par(n if op == EW_RELU or op == EW_RELU_BWD else 4 * n) else 1
    cdef const floating* xp = &x[0]
    cdef floating* yp = &out[0]
    if nch == 1:
        with nogil:
            _ew_range(op, xp, gy, yp, n)
        return 0
    for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
        lo = _cb(n, c, nch)
        _ew_range(op, xp + lo, gy + lo if gy != NULL else NULL, yp + lo, _cb(n, c + 1, nch) - lo)
    return 0


def relu(const floating[::1] x, floating[::1] out):
    """out = max(x, 0) (NaN propagates)."""
    _ew("relu", EW_RELU, x, NULL, 0, out)


def sigmoid(const floating[::1] x, floating[::1] out):
    """out = 1 / (1 + exp(-x)), evaluated with exp(-|x|) (no overflow)."""
    _ew("sigmoid", EW_SIGMOID, x, NULL, 0, out)


def tanh(const floating[::1] x, floating[::1] out):
    """out = tanh(x) via expm1(-2|x|) (accurate near 0)."""
    _ew("tanh", EW_TANH, x, NULL, 0, out)


def gelu(const floating[::1] x, floating[::1] out):
    """out = x * Phi(x) = x/2 * erfc(-x/sqrt(2)) (exact GELU; accurate in the negative tail)."""
    _ew("gelu", EW_GELU, x, NULL, 0, out)


def silu(const floating[::1] x, floating[::1] out):
    """out = x * sigmoid(x)."""
    _ew("silu", EW_SILU, x, NULL, 0, out)


def exp(const floating[::1] x, floating[::1] out):
    """out = exp(x) (vectorised, <= 2 ulp; inf/nan/subnormals handled)."""
    _ew("exp", EW_EXP, x, NULL, 0, out)


def relu_backward(const floating[::1] x, const floating[::1] gy, floating[::1] gx):
    """gx = gy where x > 0 else 0."""
    _ew("relu_backward", EW_RELU_BWD, x, &gy[0] if gy.shape[0] > 0 else NULL, gy.shape[0], gx)


def gelu_backward(const floating[::1] x, const floating[::1] gy, floating[::1] gx):
    """gx = gy * (Phi(x) + x * phi(x))."""
    _ew("gelu_backward", EW_GELU_BWD, x, &gy[0] if gy.shape[0] > 0 else NULL, gy.shape[0], gx)


def silu_backward(const floating[::1] x, const floating[::1] gy, floating[::1] gx):
    """gx = gy * s * (1 + x * (1 - s)), s = sigmoid(x)."""
    _ew("silu_backward", EW_SILU_BWD, x, &gy[0] if gy.shape[0] > 0 else NULL, gy.shape[0], gx)


def sgd_momentum_step(floating[::1] param, const floating[::1] grad, floating[::1] buf,
                      double lr, double momentum=0.0, double dampening=0.0,
                      double weight_decay=0.0, bint nesterov=False, bint maximize=False,
                      bint first_step=False):
    """One torch.optim.SGD step (single-tensor rule) in place on param (and buf if momentum):
    g = -grad if maximize else grad; g += wd*param; buf = g if first_step else
    momentum*buf + (1-dampening)*g; g = g + momentum*buf if nesterov else buf; param -= lr*g.
    buf may be empty when momentum == 0."""
    cdef Py_ssize_t n = param.shape[0], c, lo
    cdef bint use_mom = momentum != 0.0
    _check1("sgd_momentum_step", "grad", n, grad.shape[0])
    if use_mom:
        _check1("sgd_momentum_step", "buf", n, buf.shape[0])
    if n == 0:
        return
    cdef floating* pp = &param[0]
    cdef const floating* gp = &grad[0]
    cdef floating* bp = &buf[0] if use_mom else NULL
    cdef floating flr = lr, fm = momentum, fd = 1.0 - dampening, fwd = weight_decay
    cdef int nch = _nthreads if _par(3 * n) else 1
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            lo = _cb(n, c, nch)
            if floating is float:
                df_sgd_f(pp + lo, gp + lo, bp + lo if use_mom else NULL, _cb(n, c + 1, nch) - lo,
                         flr, fm, fd, fwd, nesterov, maximize, first_step, use_mom)
            else:
                df_sgd_d(pp + lo, gp + lo, bp + lo if use_mom else NULL, _cb(n, c + 1, nch) - lo,
                         flr, fm, fd, fwd, nesterov, maximize, first_step, use_mom)
    else:
        with nogil:
            for c in range(1):
                lo = _cb(n, c, nch)
                if floating is float:
                    df_sgd_f(pp + lo, gp + lo, bp + lo if use_mom else NULL, _cb(n, c + 1, nch) - lo,
                             flr, fm, fd, fwd, nesterov, maximize, first_step, use_mom)
                else:
                    df_sgd_d(pp + lo, gp + lo, bp + lo if use_mom else NULL, _cb(n, c + 1, nch) - lo,
                             flr, fm, fd, fwd, nesterov, maximize, first_step, use_mom)


def adam_step(floating[::1] param, const floating[::1] grad, floating[::1] exp_avg,
              floating[::1] exp_avg_sq, floating[::1] max_exp_avg_sq, double lr, double beta1,
              double beta2, double eps, double weight_decay, bint decoupled, bint amsgrad,
              bint maximize, long step):
    """One torch.optim.Adam (decoupled=False) / AdamW (decoupled=True) step, single-tensor
    non-capturable rule, in place.  step is the already-incremented step count (1 on the first
    call).  max_exp_avg_sq may be empty unless amsgrad."""
    cdef Py_ssize_t n = param.shape[0], c, lo
    _check1("adam_step", "grad", n, grad.shape[0])
    _check1("adam_step", "exp_avg", n, exp_avg.shape[0])
    _check1("adam_step", "exp_avg_sq", n, exp_avg_sq.shape[0])
    if amsgrad:
        _check1("adam_step", "max_exp_avg_sq", n, max_exp_avg_sq.shape[0])
    if step < 1:
        raise ValueError(f"adam_step: step must be >= 1, got {step}")
    if n == 0:
        return
    cdef double bc1 = 1.0 - beta1 ** step
    cdef double bc2 = 1.0 - beta2 ** step
    cdef double step_size = lr / bc1
    cdef floating w1 = 1.0 - beta1, decay = 1.0 - lr * weight_decay, fwd = weight_decay
    cdef floating fb2 = beta2, omb2 = 1.0 - beta2, neg_step = -step_size
    cdef floating inv_bc2 = 1.0 / bc2 ** 0.5, feps = eps
    cdef floating* pp = &param[0]
    cdef const floating* gp = &grad[0]
    cdef floating* mp = &exp_avg[0]
    cdef floating* vp = &exp_avg_sq[0]
    cdef floating* xp = &max_exp_avg_sq[0] if amsgrad else NULL
    cdef int nch = _nthreads if _par(4 * n) else 1
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            lo = _cb(n, c, nch)
            if floating is float:
                df_adam_f(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if amsgrad else NULL,
                          _cb(n, c + 1, nch) - lo, w1, decay, fwd, fb2, omb2, neg_step, inv_bc2, feps,
                          decoupled, amsgrad, maximize)
            else:
                df_adam_d(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if amsgrad else NULL,
                          _cb(n, c + 1, nch) - lo, w1, decay, fwd, fb2, omb2, neg_step, inv_bc2, feps,
                          decoupled, amsgrad, maximize)
    else:
        with nogil:
            for c in range(1):
                lo = _cb(n, c, nch)
                if floating is float:
                    df_adam_f(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if amsgrad else NULL,
                              _cb(n, c + 1, nch) - lo, w1, decay, fwd, fb2, omb2, neg_step, inv_bc2, feps,
                              decoupled, amsgrad, maximize)
                else:
                    df_adam_d(pp + lo, gp + lo, mp + lo, vp + lo, xp + lo if amsgrad else NULL,
                              _cb(n, c + 1, nch) - lo, w1, decay, fwd, fb2, omb2, neg_step, inv_bc2, feps,
                              decoupled, amsgrad, maximize)


# Large same-shape add/sub/mul (numpy's loops are single-threaded; a memory-bound pass gains from
# a second core's bandwidth).  b is an array of n elements, or NULL with the scalar s.  Division
# is left to numpy: -ffast-math may turn x / s into x * (1 / s), which is not bitwise numpy's.
cdef enum:
    BIN_ADD = 0
    BIN_SUB = 1
    BIN_MUL = 2
    BIN_RSUB = 3


cdef inline void _bin_range(int op, const floating* a, const floating* b, floating s,
                            floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if b != NULL:
        if op == BIN_ADD:
            for i in range(n):
                y[i] = a[i] + b[i]
        elif op == BIN_SUB:
            for i in range(n):
                y[i] = a[i] - b[i]
        else:
            for i in range(n):
                y[i] = a[i] * b[i]
    elif op == BIN_ADD:
        for i in range(n):
            y[i] = a[i] + s
    elif op == BIN_SUB:
        for i in range(n):
            y[i] = a[i] - s
    elif op == BIN_RSUB:
        for i in range(n):
            y[i] = s - a[i]
    else:
        for i in range(n):
            y[i] = a[i] * s


cdef int _binary(str fname, int op, const floating[::1] a, const floating* b, floating s,
                 floating[::1] out) except -1:
    cdef Py_ssize_t n = a.shape[0], c, lo
    _check1(fname, "out", n, out.shape[0])
    if n == 0:
        return 0
    cdef int nch = _nthreads if _par(n) else 1
    cdef const floating* ap = &a[0]
    cdef floating* yp = &out[0]
    if nch == 1:
        with nogil:
            _bin_range(op, ap, b, s, yp, n)
        return 0
    for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
        lo = _cb(n, c, nch)
        _bin_range(op, ap + lo, b + lo if b != NULL else NULL, s, yp + lo, _cb(n, c + 1, nch) - lo)
    return 0


_BINARY_OPS = {"add": BIN_ADD, "sub": BIN_SUB, "mul": BIN_MUL, "rsub": BIN_RSUB}


def binary(str op, const floating[::1] a, const floating[::1] b, floating[::1] out):
    """out = a op b for op in add / sub / mul (out may be a or b for in-place)."""
    if op not in _BINARY_OPS or op == "rsub":
        raise ValueError(f"binary: unsupported op {op!r}")
    cdef int code = _BINARY_OPS[op]
    _check1("binary", "b", a.shape[0], b.shape[0])
    _binary("binary", code, a, &b[0] if b.shape[0] > 0 else NULL, <floating>0, out)


def binary_scalar(str op, const floating[::1] a, double s, floating[::1] out):
    """out = a op s for op in add / sub / mul, or s - a for rsub (out may be a)."""
    if op not in _BINARY_OPS:
        raise ValueError(f"binary_scalar: unsupported op {op!r}")
    cdef int code = _BINARY_OPS[op]
    _binary("binary_scalar", code, a, NULL, <floating>s, out)
