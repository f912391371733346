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
    #define DF_R __restrict
    /* The step's recurrent product arrives as hgT = W_hh h^T (G, B): for a small batch that GEMM
       shape runs about twice as fast as h W_hh^T; the kernels add it in transposed. */
    #define DF_RNN_KERNELS(T, S) \\
    /* xg (B, 4H) + hgT^T: pre-activations; c (B, H): c_prev in, c_new out; act (B, 4H): \\
       activated gates; cprev, cnew: (B, H) saved states; h: (B, H) output; h2: copy or NULL */ \\
    DF_CLONES static void df_lstm_fwd_##S(const T* DF_R xg, const T* DF_R hgT, T* DF_R c, \\
            T* DF_R act, T* DF_R cprev, T* DF_R cnew, T* DF_R h, T* DF_R h2, df_ix B, df_ix H) { \\
        DF_PRECISE \\
        df_ix G = 4 * H; \\
        for (df_ix b = 0; b < B; b++) { /* pre-activations: xg + (W_hh h^T)^T */ \\
            const T* DF_R x = xg + b * G; T* DF_R a = act + b * G; \\
            for (df_ix r = 0; r < G; r++) a[r] = x[r] + hgT[r * B + b]; } \\
        for (df_ix b = 0; b < B; b++) { \\
            T* DF_R ai = act + b * G; T* DF_R af = ai + H; T* DF_R ag = ai + 2 * H; \\
            T* DF_R ao = ai + 3 * H; T* DF_R cb = c + b * H; T* DF_R cp = cprev + b * H; \\
            T* DF_R cn = cnew + b * H; T* DF_R hb = h + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T i = dfs_sigmoid_##S(ai[j]), f = dfs_sigmoid_##S(af[j]); \\
                T g = dfs_tanh_##S(ag[j]), o = dfs_sigmoid_##S(ao[j]); \\
                T cv = cb[j]; \\
                T cc = f * cv + i * g; \\
                cp[j] = cv; cb[j] = cc; cn[j] = cc; \\
                hb[j] = o * dfs_tanh_##S(cc); \\
                ai[j] = i; af[j] = f; ag[j] = g; ao[j] = o; } \\
            if (h2) memcpy(h2 + b * H, hb, H * sizeof(T)); } } \\
    /* dh, dh2: (B, H) gradients of h (dh2 added when non-NULL); dc: (B, H) grad of c_new in, of \\
       c_prev out; act, cnew, cprev as saved by the forward; dg: (B, 4H) gate gradients out */ \\
    DF_CLONES static void df_lstm_bwd_##S(const T* DF_R dh, const T* DF_R dh2, T* DF_R dc, \\
            const T* DF_R act, const T* DF_R cnew, const T* DF_R cprev, T* DF_R dg, df_ix B, \\
            df_ix H) { DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* DF_R ai = act + b * 4 * H; const T* DF_R af = ai + H; \\
            const T* DF_R ag = ai + 2 * H; const T* DF_R ao = ai + 3 * H; \\
            const T* DF_R cn = cnew + b * H; const T* DF_R cp = cprev + b * H; \\
            const T* DF_R gh = dh + b * H; const T* DF_R gh2 = dh2 ? dh2 + b * H : dh; \\
            T z2 = dh2 ? (T)1 : (T)0; \\
            T* DF_R gc = dc + b * H; T* DF_R di = dg + b * 4 * H; T* DF_R df = di + H; \\
            T* DF_R dgg = di + 2 * H; T* DF_R dout = di + 3 * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T i = ai[j], f = af[j], g = ag[j], o = ao[j]; \\
                T tc = dfs_tanh_##S(cn[j]); \\
                T ghj = gh[j] + z2 * gh2[j]; \\
                T gct = gc[j] + ghj * o * ((T)1 - tc * tc); \\
                di[j] = gct * g * i * ((T)1 - i); \\
                df[j] = gct * cp[j] * f * ((T)1 - f); \\
                dgg[j] = gct * i * ((T)1 - g * g); \\
                dout[j] = ghj * tc * o * ((T)1 - o); \\
                gc[j] = gct * f; } } } \\
    /* xg: (B, 3H) x W_ih^T + b_ih; hgT: (3H, B) W_hh h^T, bias: (3H,) b_hh or NULL; h: (B, H) \\
       h_prev in, h_new out; act: (B, 4H) saved r, z, n, hn (the n-part of hg + b_hh); hprev: \\
       (B, H) saved h_prev; out: (B, H) second copy of h_new */ \\
    DF_CLONES static void df_gru_fwd_##S(const T* DF_R xg, const T* DF_R hgT, const T* DF_R bias, \\
            T* DF_R h, T* DF_R act, T* DF_R hprev, T* DF_R out, df_ix B, df_ix H) { DF_PRECISE \\
        df_ix G = 3 * H; \\
        for (df_ix b = 0; b < B; b++) { \\
            T* DF_R a = act + b * 4 * H; \\
            for (df_ix r = 0; r < G; r++) a[r] = hgT[r * B + b] + (bias ? bias[r] : (T)0); } \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* DF_R x = xg + b * G; T* DF_R ar = act + b * 4 * H; T* DF_R az = ar + H; \\
            T* DF_R an = ar + 2 * H; T* DF_R ay = ar + 3 * H; \\
            T* DF_R hb = h + b * H; T* DF_R hp = hprev + b * H; T* DF_R ob = out + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T yn = an[j]; \\
                T r = dfs_sigmoid_##S(x[j] + ar[j]); \\
                T z = dfs_sigmoid_##S(x[H + j] + az[j]); \\
                T n = dfs_tanh_##S(x[2 * H + j] + r * yn); \\
                T hv = hb[j]; \\
                T hn = ((T)1 - z) * n + z * hv; \\
                hp[j] = hv; hb[j] = hn; ob[j] = hn; \\
                ar[j] = r; az[j] = z; an[j] = n; ay[j] = yn; } } } \\
    /* dh, dh2: (B, H) grads of h_new (dh2 added when non-NULL); act, hprev as saved; dgx, dgh: \\
       (B, 3H) grads of xg and of hg (+ b_hh); dhp: (B, H) the direct part of grad h_prev */ \\
    DF_CLONES static void df_gru_bwd_##S(const T* DF_R dh, const T* DF_R dh2, const T* DF_R act, \\
            const T* DF_R hprev, T* DF_R dgx, T* DF_R dgh, T* DF_R dhp, df_ix B, df_ix H) { \\
        DF_PRECISE \\
        for (df_ix b = 0; b < B; b++) { \\
            const T* DF_R ar = act + b * 4 * H; const T* DF_R az = ar + H; \\
            const T* DF_R an = ar + 2 * H; const T* DF_R ay = ar + 3 * H; \\
            const T* DF_R hp = hprev + b * H; \\
            const T* DF_R gh = dh + b * H; const T* DF_R gh2 = dh2 ? dh2 + b * H : dh; \\
            T z2 = dh2 ? (T)1 : (T)0; \\
            T* DF_R xr = dgx + b * 3 * H; T* DF_R xz = xr + H; T* DF_R xn = xr + 2 * H; \\
            T* DF_R yr = dgh + b * 3 * H; T* DF_R yz = yr + H; T* DF_R yn = yr + 2 * H; \\
            T* DF_R dp = dhp + b * H; \\
            for (df_ix j = 0; j < H; j++) { \\
                T r = ar[j], z = az[j], n = an[j], hn = ay[j]; \\
                T g = gh[j] + z2 * gh2[j]; \\
                T dn = g * ((T)1 - z) * ((T)1 - n * n); \\
                T dz = g * (hp[j] - n) * z * ((T)1 - z); \\
                T dr = dn * hn * r * ((T)1 - r); \\
                xr[j] = dr; xz[j] = dz; xn[j] = dn; \\
                yr[j] = dr; yz[j] = dz; yn[j] = dn * r; \\
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


def lstm_cell_forward(const floating[:, ::1] xg, const floating[:, ::1] hgT, floating[:, ::1] c,
                      floating[:, ::1] act, floating[:, ::1] cprev, floating[:, ::1] cnew,
                      floating[:, ::1] h, floating[:, ::1] h2):
    """One LSTM step for B rows: gates = xg (B, 4H) + hgT.T, hgT = W_hh h^T (4H, B); c (B, H)
    is c_prev on entry and c_new on return; writes the activated gates ``act`` (B, 4H), copies
    of c_prev / c_new (``cprev``, ``cnew``), h_new into ``h`` and, when ``h2`` has rows, into
    ``h2`` too."""
    cdef Py_ssize_t B = c.shape[0], H = c.shape[1]
    _check2("lstm_cell_forward", "xg", B, 4 * H, xg.shape[0], xg.shape[1])
    _check2("lstm_cell_forward", "hgT", 4 * H, B, hgT.shape[0], hgT.shape[1])
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
            df_lstm_fwd_f(&xg[0, 0], &hgT[0, 0], &c[0, 0], &act[0, 0], &cprev[0, 0], &cnew[0, 0],
                          &h[0, 0], h2p, B, H)
        else:
            df_lstm_fwd_d(&xg[0, 0], &hgT[0, 0], &c[0, 0], &act[0, 0], &cprev[0, 0], &cnew[0, 0],
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


def gru_cell_forward(const floating[:, ::1] xg, const floating[:, ::1] hgT,
                     const floating[::1] bhh, floating[:, ::1] h, floating[:, ::1] act,
                     floating[:, ::1] hprev, floating[:, ::1] out):
    """One GRU step for B rows: xg = x W_ih^T + b_ih (B, 3H), hgT = W_hh h^T (3H, B), plus
    ``bhh`` (3H,) when it is not empty; h (B, H) is h_prev on entry and h_new on return (also
    written to ``out``); saves r, z, n and the n-part of hg + b_hh in ``act`` (B, 4H) and
    h_prev in ``hprev``."""
    cdef Py_ssize_t B = h.shape[0], H = h.shape[1]
    _check2("gru_cell_forward", "xg", B, 3 * H, xg.shape[0], xg.shape[1])
    _check2("gru_cell_forward", "hgT", 3 * H, B, hgT.shape[0], hgT.shape[1])
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
            df_gru_fwd_f(&xg[0, 0], &hgT[0, 0], bp, &h[0, 0], &act[0, 0], &hprev[0, 0],
                         &out[0, 0], B, H)
        else:
            df_gru_fwd_d(&xg[0, 0], &hgT[0, 0], bp, &h[0, 0], &act[0, 0], &hprev[0, 0],
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
