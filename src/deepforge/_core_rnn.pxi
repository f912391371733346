# Fused LSTM / GRU cell pointwise kernels: one pass over a time step's gate rows, forward
# (activations, new states, and what the backward needs saved) and backward (gate gradients
# and the state gradient carried to the previous step).  Rows are batch entries; the GEMMs
# around them (x W_ih^T once per layer, h W_hh^T per step) stay in BLAS, called by the
# time-step loop in backends/cpu.py.  Gate orders are PyTorch's: LSTM i, f, g, o; GRU r, z, n.

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC push_options
    #pragma GCC optimize ("no-unsafe-math-optimizations", "no-trapping-math", "no-signed-zeros", "reciprocal-math")
    #endif
    #define DF_RNN_KERNELS(T, S) \\
    /* xg, hg: (B, 4H) pre-activations (summed here); c: (B, H) c_prev in, c_new out; act: (B, 4H) \\
       activated gates; cprev, cnew: (B, H) saved states; h: (B, H) output; h2: second copy or NULL */ \\
    DF_CLONES static void df_lstm_fwd_##S(const T* xg, const T* hg, T* c, T* act, T* cprev, T* cnew, \\
            T* h, T* h2, df_ix B, df_ix H) { DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* x = xg + b * 4 * H; const T* y = hg + b * 4 * H; T* a = act + b * 4 * H; \\
            T* cb = c + b * H; T* cp = cprev + b * H; T* cn = cnew + b * H; T* hb = h + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T i = dfs_sigmoid_##S(x[j] + y[j]); \\
                T f = dfs_sigmoid_##S(x[H + j] + y[H + j]); \\
                T g = dfs_tanh_##S(x[2 * H + j] + y[2 * H + j]); \\
                T o = dfs_sigmoid_##S(x[3 * H + j] + y[3 * H + j]); \\
                T cv = cb[j]; cp[j] = cv; \\
                T cc = f * cv + i * g; \\
                cb[j] = cc; cn[j] = cc; \\
                hb[j] = o * dfs_tanh_##S(cc); \\
                a[j] = i; a[H + j] = f; a[2 * H + j] = g; a[3 * H + j] = o; } \\
            if (h2) memcpy(h2 + b * H, hb, H * sizeof(T)); } } \\
    /* dh, dh2: (B, H) gradients of h (dh2 added when non-NULL); dc: (B, H) grad of c_new in, of \\
       c_prev out; act, cnew, cprev as saved by the forward; dg: (B, 4H) gate gradients out */ \\
    DF_CLONES static void df_lstm_bwd_##S(const T* dh, const T* dh2, T* dc, const T* act, \\
            const T* cnew, const T* cprev, T* dg, df_ix B, df_ix H) { DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* a = act + b * 4 * H; const T* cn = cnew + b * H; const T* cp = cprev + b * H; \\
            const T* gh = dh + b * H; const T* gh2 = dh2 ? dh2 + b * H : dh2; \\
            T* gc = dc + b * H; T* d = dg + b * 4 * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j]; \\
                T tc = dfs_tanh_##S(cn[j]); \\
                T ghj = gh2 ? gh[j] + gh2[j] : gh[j]; \\
                T gct = gc[j] + ghj * o * ((T)1 - tc * tc); \\
                d[j] = gct * g * i * ((T)1 - i); \\
                d[H + j] = gct * cp[j] * f * ((T)1 - f); \\
                d[2 * H + j] = gct * i * ((T)1 - g * g); \\
                d[3 * H + j] = ghj * tc * o * ((T)1 - o); \\
                gc[j] = gct * f; } } } \\
    /* xg: (B, 3H) x W_ih^T + b_ih; hg: (B, 3H) h W_hh^T (bhh: (3H,) added when non-NULL); \\
       h: (B, H) h_prev in, h_new out; act: (B, 4H) saved r, z, n, hn; hprev: (B, H) saved \\
       h_prev; out: (B, H) second copy of h_new */ \\
    DF_CLONES static void df_gru_fwd_##S(const T* xg, const T* hg, const T* bhh, T* h, T* act, \\
            T* hprev, T* out, df_ix B, df_ix H) { DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* x = xg + b * 3 * H; const T* y = hg + b * 3 * H; T* a = act + b * 4 * H; \\
            T* hb = h + b * H; T* hp = hprev + b * H; T* ob = out + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T yr = y[j], yz = y[H + j], yn = y[2 * H + j]; \\
                if (bhh) { yr += bhh[j]; yz += bhh[H + j]; yn += bhh[2 * H + j]; } \\
                T r = dfs_sigmoid_##S(x[j] + yr); \\
                T z = dfs_sigmoid_##S(x[H + j] + yz); \\
                T n = dfs_tanh_##S(x[2 * H + j] + r * yn); \\
                T hv = hb[j]; hp[j] = hv; \\
                T hn = ((T)1 - z) * n + z * hv; \\
                hb[j] = hn; ob[j] = hn; \\
                a[j] = r; a[H + j] = z; a[2 * H + j] = n; a[3 * H + j] = yn; } } } \\
    /* dh, dh2: (B, H) grads of h_new (dh2 added when non-NULL); act, hprev as saved; dgx, dgh: \\
       (B, 3H) grads of xg and of hg (+ b_hh); dhp: (B, H) the direct part of grad h_prev */ \\
    DF_CLONES static void df_gru_bwd_##S(const T* dh, const T* dh2, const T* act, const T* hprev, \\
            T* dgx, T* dgh, T* dhp, df_ix B, df_ix H) { DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* a = act + b * 4 * H; const T* hp = hprev + b * H; \\
            const T* gh = dh + b * H; const T* gh2 = dh2 ? dh2 + b * H : dh2; \\
            T* dx = dgx + b * 3 * H; T* dy = dgh + b * 3 * H; T* dp = dhp + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T r = a[j], z = a[H + j], n = a[2 * H + j], yn = a[3 * H + j]; \\
                T g = gh2 ? gh[j] + gh2[j] : gh[j]; \\
                T dn = g * ((T)1 - z) * ((T)1 - n * n); \\
                T dz = g * (hp[j] - n) * z * ((T)1 - z); \\
                T dr = dn * yn * r * ((T)1 - r); \\
                dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dn; \\
                dy[j] = dr; dy[H + j] = dz; dy[2 * H + j] = dn * r; \\
                dp[j] = g * z; } } }
    DF_RNN_KERNELS(float, f)
    DF_RNN_KERNELS(double, d)
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif
    """
    void df_lstm_fwd_f(const float*, const float*, float*, float*, float*, float*, float*, float*,
                       Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_lstm_fwd_d(const double*, const double*, double*, double*, double*, double*, double*,
                       double*, Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_lstm_bwd_f(const float*, const float*, float*, const float*, const float*, const float*,
                       float*, Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_lstm_bwd_d(const double*, const double*, double*, const double*, const double*,
                       const double*, double*, Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_gru_fwd_f(const float*, const float*, const float*, float*, float*, float*, float*,
                      Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_gru_fwd_d(const double*, const double*, const double*, double*, double*, double*,
                      double*, Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_gru_bwd_f(const float*, const float*, const float*, const float*, float*, float*,
                      float*, Py_ssize_t, Py_ssize_t) noexcept nogil
    void df_gru_bwd_d(const double*, const double*, const double*, const double*, double*, double*,
                      double*, Py_ssize_t, Py_ssize_t) noexcept nogil


def lstm_cell_forward(const floating[:, ::1] xg, const floating[:, ::1] hg, floating[:, ::1] c,
                      floating[:, ::1] act, floating[:, ::1] cprev, floating[:, ::1] cnew,
                      floating[:, ::1] h, floating[:, ::1] h2):
    """One LSTM step for B rows: gates = xg + hg (B, 4H); c (B, H) is c_prev on entry and c_new
    on return; writes the activated gates ``act``, copies of c_prev / c_new (``cprev``,
    ``cnew``), h_new into ``h`` and, when ``h2`` has rows, into ``h2`` too."""
    cdef Py_ssize_t B = c.shape[0], H = c.shape[1]
    _check2("lstm_cell_forward", "xg", B, 4 * H, xg.shape[0], xg.shape[1])
    _check2("lstm_cell_forward", "hg", B, 4 * H, hg.shape[0], hg.shape[1])
    _check2("lstm_cell_forward", "act", B, 4 * H, act.shape[0], act.shape[1])
    _check2("lstm_cell_forward", "cprev", B, H, cprev.shape[0], cprev.shape[1])
    _check2("lstm_cell_forward", "cnew", B, H, cnew.shape[0], cnew.shape[1])
    _check2("lstm_cell_forward", "h", B, H, h.shape[0], h.shape[1])
    if h2.shape[0]:
        _check2("lstm_cell_forward", "h2", B, H, h2.shape[0], h2.shape[1])
    if B == 0 or H == 0:
        return
    cdef floating* h2p = &h2[0, 0] if h2.shape[0] else NULL
    with nogil:
        if floating is float:
            df_lstm_fwd_f(&xg[0, 0], &hg[0, 0], &c[0, 0], &act[0, 0], &cprev[0, 0], &cnew[0, 0],
                          &h[0, 0], h2p, B, H)
        else:
            df_lstm_fwd_d(&xg[0, 0], &hg[0, 0], &c[0, 0], &act[0, 0], &cprev[0, 0], &cnew[0, 0],
                          &h[0, 0], h2p, B, H)


def lstm_cell_backward(const floating[:, ::1] dh, const floating[:, ::1] dh2, floating[:, ::1] dc,
                       const floating[:, ::1] act, const floating[:, ::1] cnew,
                       const floating[:, ::1] cprev, floating[:, ::1] dgates):
    """Backward of ``lstm_cell_forward``: dh (+ dh2 when it has rows) is the gradient of h_new,
    dc that of c_new on entry and of c_prev on return; writes the gate gradients ``dgates``."""
    cdef Py_ssize_t B = dc.shape[0], H = dc.shape[1]
    _check2("lstm_cell_backward", "dh", B, H, dh.shape[0], dh.shape[1])
    if dh2.shape[0]:
        _check2("lstm_cell_backward", "dh2", B, H, dh2.shape[0], dh2.shape[1])
    _check2("lstm_cell_backward", "act", B, 4 * H, act.shape[0], act.shape[1])
    _check2("lstm_cell_backward", "cnew", B, H, cnew.shape[0], cnew.shape[1])
    _check2("lstm_cell_backward", "cprev", B, H, cprev.shape[0], cprev.shape[1])
    _check2("lstm_cell_backward", "dgates", B, 4 * H, dgates.shape[0], dgates.shape[1])
    if B == 0 or H == 0:
        return
    cdef const floating* d2 = &dh2[0, 0] if dh2.shape[0] else NULL
    with nogil:
        if floating is float:
            df_lstm_bwd_f(&dh[0, 0], d2, &dc[0, 0], &act[0, 0], &cnew[0, 0], &cprev[0, 0],
                          &dgates[0, 0], B, H)
        else:
            df_lstm_bwd_d(&dh[0, 0], d2, &dc[0, 0], &act[0, 0], &cnew[0, 0], &cprev[0, 0],
                          &dgates[0, 0], B, H)


def gru_cell_forward(const floating[:, ::1] xg, const floating[:, ::1] hg,
                     const floating[::1] bhh, floating[:, ::1] h, floating[:, ::1] act,
                     floating[:, ::1] hprev, floating[:, ::1] out):
    """One GRU step for B rows: xg = x W_ih^T + b_ih, hg = h W_hh^T (B, 3H), plus ``bhh`` (3H,)
    when it is not empty; h (B, H) is h_prev on entry and h_new on return (also written to
    ``out``); saves r, z, n and the n-part of hg + b_hh in ``act`` (B, 4H) and h_prev in
    ``hprev``."""
    cdef Py_ssize_t B = h.shape[0], H = h.shape[1]
    _check2("gru_cell_forward", "xg", B, 3 * H, xg.shape[0], xg.shape[1])
    _check2("gru_cell_forward", "hg", B, 3 * H, hg.shape[0], hg.shape[1])
    if bhh.shape[0]:
        _check1("gru_cell_forward", "bhh", 3 * H, bhh.shape[0])
    _check2("gru_cell_forward", "act", B, 4 * H, act.shape[0], act.shape[1])
    _check2("gru_cell_forward", "hprev", B, H, hprev.shape[0], hprev.shape[1])
    _check2("gru_cell_forward", "out", B, H, out.shape[0], out.shape[1])
    if B == 0 or H == 0:
        return
    cdef const floating* bp = &bhh[0] if bhh.shape[0] else NULL
    with nogil:
        if floating is float:
            df_gru_fwd_f(&xg[0, 0], &hg[0, 0], bp, &h[0, 0], &act[0, 0], &hprev[0, 0],
                         &out[0, 0], B, H)
        else:
            df_gru_fwd_d(&xg[0, 0], &hg[0, 0], bp, &h[0, 0], &act[0, 0], &hprev[0, 0],
                         &out[0, 0], B, H)


def gru_cell_backward(const floating[:, ::1] dh, const floating[:, ::1] dh2,
                      const floating[:, ::1] act, const floating[:, ::1] hprev,
                      floating[:, ::1] dgx, floating[:, ::1] dgh, floating[:, ::1] dhp):
    """Backward of ``gru_cell_forward``: dh (+ dh2 when it has rows) is the gradient of h_new;
    writes the gradients of xg (``dgx``) and of hg + b_hh (``dgh``), and the direct part
    dh * z of the gradient of h_prev (``dhp``; the caller adds dgh W_hh)."""
    cdef Py_ssize_t B = dh.shape[0], H = dh.shape[1]
    if dh2.shape[0]:
        _check2("gru_cell_backward", "dh2", B, H, dh2.shape[0], dh2.shape[1])
    _check2("gru_cell_backward", "act", B, 4 * H, act.shape[0], act.shape[1])
    _check2("gru_cell_backward", "hprev", B, H, hprev.shape[0], hprev.shape[1])
    _check2("gru_cell_backward", "dgx", B, 3 * H, dgx.shape[0], dgx.shape[1])
    _check2("gru_cell_backward", "dgh", B, 3 * H, dgh.shape[0], dgh.shape[1])
    _check2("gru_cell_backward", "dhp", B, H, dhp.shape[0], dhp.shape[1])
    if B == 0 or H == 0:
        return
    cdef const floating* d2 = &dh2[0, 0] if dh2.shape[0] else NULL
    with nogil:
        if floating is float:
            df_gru_bwd_f(&dh[0, 0], d2, &act[0, 0], &hprev[0, 0], &dgx[0, 0], &dgh[0, 0],
                         &dhp[0, 0], B, H)
        else:
            df_gru_bwd_d(&dh[0, 0], d2, &act[0, 0], &hprev[0, 0], &dgx[0, 0], &dgh[0, 0],
                         &dhp[0, 0], B, H)
