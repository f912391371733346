"""affine_grid, grid_sample and ctc_loss against torch: values, gradients, gradcheck, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES_PADDINGS = list(
    itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"))
)


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _grid_away_from_kinks(rng, shape, spatial, align_corners):
    """Normalised grid whose pixel coordinates stay 0.15 away from integers and half-integers

    (the kinks of floor, round, border clipping and reflection), some of them outside the
    input so that every padding mode is exercised."""
    coords = []
    for size in reversed(spatial):
        whole = rng.integers(-2, size + 1, shape)
        frac = rng.uniform(0.15, 0.35, shape) + rng.choice([0.0, 0.5], shape)
        pixel = whole + frac
        if align_corners:
            coords.append(pixel * 2 / (size - 1) - 1)
        else:
            coords.append((2 * pixel + 1) / size - 1)
    return np.stack(coords, axis=-1)


def _compare_grid_sample(device, x, g, mode, padding_mode, align_corners, rng, atol=1e-10):
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(g, requires_grad=True)
    ref = TF.grid_sample(tx, tg, mode, padding_mode, align_corners)
    w = rng.standard_normal(tuple(ref.shape))
    (ref * torch.tensor(w)).sum().backward()
    dx = df.tensor(x, device=device, requires_grad=True)
    dg = df.tensor(g, device=device, requires_grad=True)
    out = F.grid_sample(dx, dg, mode, padding_mode, align_corners)
    (out * df.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(_np(out), ref.detach().numpy(), atol=atol, rtol=1e-7)
    np.testing.assert_allclose(_np(dx.grad), tx.grad.numpy(), atol=atol, rtol=1e-7)
    np.testing.assert_allclose(_np(dg.grad), tg.grad.numpy(), atol=atol, rtol=1e-7)


# -- grid_sample --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode,padding_mode", MODES_PADDINGS)
def test_grid_sample_4d_matches_torch(device, mode, padding_mode):
    rng = np.random.default_rng(0)
    for align_corners in (True, False):
        x = rng.standard_normal((2, 3, 4, 5))
        g = rng.uniform(-1.7, 1.7, (2, 3, 4, 2))
        # exact corners: clipping treats the border as outside for the gradient
        g[0, 0, 0] = (-1.0, 1.0)
        g[0, 0, 1] = (1.0, -1.0)
        _compare_grid_sample(device, x, g, mode, padding_mode, align_corners, rng)


@pytest.mark.parametrize("mode,padding_mode", MODES_PADDINGS[:6])
def test_grid_sample_5d_matches_torch(device, mode, padding_mode):
    rng = np.random.default_rng(1)
    for align_corners in (True, False):
        x = rng.standard_normal((2, 2, 3, 4, 3))
        g = rng.uniform(-1.5, 1.5, (2, 2, 3, 2, 3))
        _compare_grid_sample(device, x, g, mode, padding_mode, align_corners, rng)


def test_grid_sample_float32_and_non_finite_grid(device):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    g = rng.uniform(-1.2, 1.2, (1, 2, 3, 2)).astype(np.float32)
    g[0, 0, 0, 0] = np.nan
    g[0, 1, 1, 1] = np.inf
    g[0, 1, 2, 0] = -np.inf
    for mode, padding_mode in MODES_PADDINGS:
        ref = TF.grid_sample(torch.tensor(x), torch.tensor(g), mode, padding_mode, False)
        out = F.grid_sample(
            df.tensor(x, device=device), df.tensor(g, device=device), mode, padding_mode, False
        )
        assert out.dtype == df.float32
        # NaN where PyTorch gives NaN (zeros padding, bicubic weights), clipped to 0 elsewhere
        np.testing.assert_allclose(_np(out), ref.numpy(), atol=1e-5, equal_nan=True)


def test_grid_sample_outside_taps_ignore_non_finite_input(device):
    x = np.ones((1, 1, 3, 3))
    x[0, 0, 0, 0] = np.inf  # read by no tap inside the image; clamped-to indices must not leak
    g = np.array([[[[-3.0, -3.0], [0.0, 0.0], [0.1, -0.2]]]])
    for mode in ("bilinear", "nearest", "bicubic"):
        ref = TF.grid_sample(torch.tensor(x), torch.tensor(g), mode, align_corners=False)
        out = F.grid_sample(
            df.tensor(x, device=device), df.tensor(g, device=device), mode, align_corners=False
        )
        np.testing.assert_allclose(_np(out), ref.numpy(), equal_nan=True)


def test_grid_sample_non_contiguous_inputs(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 4))
    g = rng.uniform(-1.2, 1.2, (2, 2, 4, 3))
    tx = torch.tensor(x).transpose(2, 3)
    tg = torch.tensor(g).permute(0, 2, 3, 1)
    ref = TF.grid_sample(tx, tg, "bilinear", "reflection", True)
    dx = df.tensor(x, device=device).transpose(2, 3)
    dg = df.tensor(g, device=device).permute(0, 2, 3, 1)
    assert not dx.is_contiguous() and not dg.is_contiguous()
    out = F.grid_sample(dx, dg, "bilinear", "reflection", True)
    np.testing.assert_allclose(_np(out), ref.numpy(), atol=1e-12)
    dx.requires_grad_(True)
    dg.requires_grad_(True)
    assert gradcheck(
        lambda a, b: F.grid_sample(a, b, "bilinear", "zeros", False),
        (dx, dg.detach().requires_grad_(False)),
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_grid_sample_gradcheck(device, mode, padding_mode):
    rng = np.random.default_rng(4)
    # bicubic reads 16 taps per point: fewer points keep its gradcheck quick
    channels, points = (2, (1, 2, 3)) if mode == "bilinear" else (1, (1, 1, 3))
    for align_corners in (True, False):
        x = df.tensor(rng.standard_normal((1, channels, 3, 4)), device=device, requires_grad=True)
        g = _grid_away_from_kinks(rng, points, (3, 4), align_corners)
        g = df.tensor(g, device=device, requires_grad=True)
        assert gradcheck(
            lambda a, b, ac=align_corners: F.grid_sample(a, b, mode, padding_mode, ac), (x, g)
        )


def test_grid_sample_gradcheck_3d_and_nearest(device):
    rng = np.random.default_rng(5)
    x = df.tensor(rng.standard_normal((1, 1, 2, 3, 3)), device=device, requires_grad=True)
    g = df.tensor(
        _grid_away_from_kinks(rng, (1, 2, 1, 2), (2, 3, 3), False),
        device=device,
        requires_grad=True,
    )
    assert gradcheck(lambda a, b: F.grid_sample(a, b, "bilinear", "reflection", False), (x, g))
    assert gradcheck(lambda a, b: F.grid_sample(a, b, "nearest", "border", False), (x, g))


def test_grid_sample_nearest_grid_grad_is_zero(device):
    x = df.randn(1, 1, 3, 3, device=device)
    g = df.zeros(1, 2, 2, 2, device=device, requires_grad=True)
    F.grid_sample(x, g, "nearest", align_corners=False).sum().backward()
    assert g.grad is not None and float(g.grad.abs().sum()) == 0.0


def test_grid_sample_align_corners_default_warns():
    x, g = df.randn(1, 1, 3, 3), df.zeros(1, 2, 2, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        out = F.grid_sample(x, g)
    np.testing.assert_allclose(_np(out), _np(F.grid_sample(x, g, align_corners=False)))


def _raised(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - compared against torch below
            return type(e), str(e)
    raise AssertionError("no exception raised")


GRID_SAMPLE_ERRORS = [
    ((2, 3, 4, 5), (3, 6, 7, 2), {}),
    ((2, 3, 4, 5), (2, 6, 7, 3), {}),
    ((3, 4, 5), (3, 6, 2), {}),
    ((2, 3, 4, 5), (2, 6, 7, 1, 2), {}),
    ((2, 3, 4, 5, 6), (2, 2, 2, 2, 2), {}),
    ((2, 3, 0, 5), (2, 6, 7, 2), {}),
    ((2, 3, 4, 5, 6), (2, 2, 2, 2, 3), {"mode": "bicubic"}),
    ((2, 3, 4, 5), (2, 6, 7, 2), {"mode": "cubic"}),
    ((2, 3, 4, 5), (2, 6, 7, 2), {"padding_mode": "wrap"}),
]


@pytest.mark.parametrize("xs,gs,kw", GRID_SAMPLE_ERRORS)
def test_grid_sample_errors_match_torch(xs, gs, kw):
    want = _raised(lambda: TF.grid_sample(torch.zeros(xs), torch.zeros(gs), **kw))
    got = _raised(lambda: F.grid_sample(df.zeros(xs), df.zeros(gs), **kw))
    assert got[0].__name__ == want[0].__name__ and got[1] == want[1]


def test_grid_sample_dtype_errors_match_torch():
    want = _raised(
        lambda: TF.grid_sample(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 2).double())
    )
    got = _raised(lambda: F.grid_sample(df.zeros(1, 1, 2, 2), df.zeros(1, 1, 1, 2).double()))
    assert got[0] is RuntimeError and got[1] == want[1]
    want = _raised(
        lambda: TF.grid_sample(torch.zeros(1, 1, 2, 2).long(), torch.zeros(1, 1, 1, 2).long())
    )
    got = _raised(lambda: F.grid_sample(df.zeros(1, 1, 2, 2).long(), df.zeros(1, 1, 1, 2).long()))
    assert got[0] is NotImplementedError and got[1] == want[1]


# -- affine_grid --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 1, 3, 2, 4), (2, 1, 1, 2, 1)])
def test_affine_grid_matches_torch(device, size):
    rng = np.random.default_rng(6)
    shape = (2, 2, 3) if len(size) == 4 else (2, 3, 4)
    for align_corners in (True, False):
        theta = rng.standard_normal(shape)
        tt = torch.tensor(theta, requires_grad=True)
        dt = df.tensor(theta, device=device, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit-size grids with align_corners=True warn
            ref = TF.affine_grid(tt, size, align_corners)
            out = F.affine_grid(dt, size, align_corners)
        assert tuple(out.shape) == tuple(ref.shape)
        w = rng.standard_normal(tuple(ref.shape))
        (ref * torch.tensor(w)).sum().backward()
        (out * df.tensor(w, device=device)).sum().backward()
        np.testing.assert_allclose(_np(out), ref.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(_np(dt.grad), tt.grad.numpy(), atol=1e-12)


def test_affine_grid_gradcheck(device):
    theta = df.randn(2, 2, 3, dtype=df.float64, device=device, requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 2), align_corners=False), (theta,))
    theta3 = df.randn(1, 3, 4, dtype=df.float64, device=device, requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, [1, 1, 2, 2, 3], align_corners=True), (theta3,))


def test_affine_grid_warnings():
    theta = df.zeros(1, 2, 3)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(theta, (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="unit-size grids"):
        F.affine_grid(theta, (1, 1, 1, 2), align_corners=True)


AFFINE_GRID_ERRORS = [
    ((2, 2, 3), (2, 3, 4, 5, 6), "float"),
    ((2, 3, 4), (2, 3, 4, 5), "float"),
    ((2, 2, 3), (2, 3, 4), "float"),
    ((2, 2, 3), (2, 3, 4, 5), "long"),
    ((2, 2, 3), (2, 3, 0, 5), "float"),
]


@pytest.mark.parametrize("ts,size,kind", AFFINE_GRID_ERRORS)
def test_affine_grid_errors_match_torch(ts, size, kind):
    want = _raised(lambda: TF.affine_grid(getattr(torch.zeros(ts), kind)(), size, False))
    got = _raised(lambda: F.affine_grid(getattr(df.zeros(ts), kind)(), size, False))
    assert got[0] is want[0]
    assert got[1] == want[1].replace("torch.", "deepforge.")


# -- a spatial transformer network, forward and backward ---------------------------------------


def _make_stn(lib):
    class STN(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.loc = lib.nn.Conv2d(1, 4, 3)
            self.fc = lib.nn.Linear(4 * 7 * 7, 6)
            self.head = lib.nn.Linear(8 * 8, 3)

        def forward(self, x):
            f = lib.nn.functional
            h = f.relu(f.max_pool2d(self.loc(x), 2))
            theta = self.fc(h.flatten(1)).view(-1, 2, 3)
            grid = f.affine_grid(theta, x.size(), align_corners=False)
            y = f.grid_sample(x, grid, align_corners=False)
            return f.log_softmax(self.head(f.avg_pool2d(y, 2).flatten(1)), dim=1)

    return STN()


def test_spatial_transformer_network_matches_torch(device):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    labels = np.array([0, 2])
    ours, theirs = _make_stn(df), _make_stn(torch)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.tensor(_np(p)))
    ours.to(device)
    loss = F.nll_loss(ours(df.tensor(x, device=device)), df.tensor(labels, device=device))
    ref = TF.nll_loss(theirs(torch.tensor(x)), torch.tensor(labels))
    loss.backward()
    ref.backward()
    np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-4)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(_np(p.grad), q.grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=name)


# -- ctc_loss ------------------------------------------------------------------------------------

T, N, C = 7, 3, 5
INPUT_LENGTHS = [7, 5, 3]


def _ctc_case(rng, layout, target_lengths):
    """Logits (T, N, C) and targets in the padded (N, S) or concatenated layout, with a repeated
    label (which forbids the blank-skipping transition)."""
    logits = rng.standard_normal((T, N, C))
    padded = rng.integers(1, C, (N, 4))
    padded[0, 1] = padded[0, 0]
    if layout == "padded":
        return logits, padded
    return logits, np.concatenate([padded[n, : target_lengths[n]] for n in range(N)])


def _ctc_both(device, logits, targets, in_lens, tg_lens, dtype, **kw):
    """(ours, torch): loss, logits and log_probs (which keep their .grad)."""
    tx = torch.tensor(logits, dtype=getattr(torch, dtype), requires_grad=True)
    tlp = tx.log_softmax(2)
    tlp.retain_grad()
    t_lens = [torch.tensor(v) if isinstance(v, np.ndarray) else v for v in (in_lens, tg_lens)]
    ref = TF.ctc_loss(tlp, torch.tensor(targets), *t_lens, **kw)
    dx = df.tensor(logits, dtype=getattr(df, dtype), device=device, requires_grad=True)
    dlp = dx.log_softmax(2)
    dlp.retain_grad()
    d_lens = [
        df.tensor(v, device=device) if isinstance(v, np.ndarray) else v for v in (in_lens, tg_lens)
    ]
    out = F.ctc_loss(dlp, df.tensor(targets, device=device), *d_lens, **kw)
    return (out, dx, dlp), (ref, tx, tlp)


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_loss_matches_torch(device, layout, reduction):
    rng = np.random.default_rng(8)
    tg_lens = [3, 0, 2]  # sample 1 has an empty target
    for dtype, tol in (("float64", 1e-10), ("float32", 2e-5)):
        logits, targets = _ctc_case(rng, layout, tg_lens)
        # lengths as lists for float64, as int64 tensors for float32
        lens = (INPUT_LENGTHS, tg_lens)
        if dtype == "float32":
            lens = (np.array(INPUT_LENGTHS), np.array(tg_lens))
        (out, dx, dlp), (ref, tx, tlp) = _ctc_both(
            device, logits, targets, *lens, dtype, reduction=reduction
        )
        w = rng.standard_normal(tuple(ref.shape))
        (ref * torch.tensor(w, dtype=ref.dtype)).sum().backward()
        (out * df.tensor(w, dtype=out.dtype, device=device)).sum().backward()
        np.testing.assert_allclose(_np(out), ref.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(_np(dx.grad), tx.grad.numpy(), rtol=tol, atol=tol)
        # PyTorch's gradient for the log_probs themselves (exp(log_probs) - posterior)
        np.testing.assert_allclose(_np(dlp.grad), tlp.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_impossible_target(device, zero_infinity):
    rng = np.random.default_rng(9)
    tg_lens = [2, 1, 3]
    logits, targets = _ctc_case(rng, "padded", tg_lens)
    # 3 frames cannot emit 1, 1, 2: the repeat needs a blank between, 4 frames in all
    targets[2, :3] = [1, 1, 2]
    (out, dx, dlp), (ref, tx, tlp) = _ctc_both(
        device,
        logits,
        targets,
        INPUT_LENGTHS,
        tg_lens,
        "float64",
        reduction="none",
        zero_infinity=zero_infinity,
    )
    assert np.isinf(ref[2].item()) != zero_infinity
    ref.sum().backward()
    out.sum().backward()
    np.testing.assert_allclose(_np(out), ref.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(
        _np(dlp.grad), tlp.grad.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True
    )


def test_ctc_loss_unbatched_and_module(device):
    rng = np.random.default_rng(10)
    lp = rng.standard_normal((6, 4))
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    tg = np.array([1, 3, 3])
    ref = TF.ctc_loss(torch.tensor(lp), torch.tensor(tg), [6], [3], reduction="none")
    out = F.ctc_loss(
        df.tensor(lp, device=device), df.tensor(tg, device=device), [6], [3], reduction="none"
    )
    assert tuple(out.shape) == tuple(ref.shape) == ()
    np.testing.assert_allclose(_np(out), ref.numpy(), rtol=1e-12)
    crit = nn.CTCLoss(blank=3, reduction="sum", zero_infinity=True)
    assert repr(crit) == "CTCLoss()" and crit.blank == 3 and crit.zero_infinity
    tg = np.array([[1, 2, 0], [2, 2, 1]])
    lp3 = np.stack([lp, lp[::-1]], axis=1)
    ref = torch.nn.CTCLoss(blank=3, reduction="sum", zero_infinity=True)(
        torch.tensor(lp3), torch.tensor(tg), (6, 6), (2, 3)
    )
    out = crit(df.tensor(lp3, device=device), df.tensor(tg, device=device), (6, 6), (2, 3))
    np.testing.assert_allclose(float(out), ref.item(), rtol=1e-12)


@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_loss_gradcheck(device, layout):
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((4, 2, 3))
    targets = np.array([[1, 2], [2, 0]]) if layout == "padded" else np.array([1, 2, 2])
    tg = df.tensor(targets, device=device)

    def loss(x):
        # the exact gradient is the one through log_softmax (see nn/functional/_ctc.py)
        return F.ctc_loss(x.log_softmax(2), tg, [4, 3], [2, 1], reduction="none")

    x = df.tensor(logits, device=device, requires_grad=True)
    assert gradcheck(loss, (x,))
    # a non-contiguous (N, T, C) buffer seen as (T, N, C)
    xt = df.tensor(np.ascontiguousarray(logits.transpose(1, 0, 2)), device=device).transpose(0, 1)
    assert not xt.is_contiguous()
    assert gradcheck(loss, (xt.requires_grad_(True),))


CTC_ERRORS = [
    ((6, 2, 4), (2, 3), [6, 5, 4], [3, 2], {}),
    ((6, 2, 4), (2, 3), [6, 5], [3, 2, 1], {}),
    ((6, 2, 4), (2, 3), [7, 5], [3, 2], {}),
    ((6, 2, 4), (2, 3), [6, 5], [4, 2], {}),
    ((6, 2, 4), (4,), [6, 5], [3, 2], {}),
    ((6, 2, 4), (2, 3), [6, 5], [-1, 2], {}),
    ((6, 2, 4), (2, 3), [6, -5], [1, 2], {}),
    ((6, 2, 4), (2, 3), [6, 5], [3, 2], {"blank": 4}),
    ((6, 2, 4), (2, 3, 1), [6, 5], [3, 2], {}),
    ((1, 6, 2, 4), (2, 3), [6, 5], [3, 2], {}),
    ((6, 4), (3,), [6, 5], [3, 2], {}),
    ((6, 2, 4), (2, 3), [6, 5], [3, 2], {"reduction": "avg"}),
]


def test_ctc_loss_length_types_match_torch():
    lp, tg = df.zeros(6, 2, 4), df.ones(2, 3, dtype=df.int64)
    for il, tl in ((df.tensor([6, 5]), [3, 2]), ([6, 5], df.tensor([3, 2])), (6, 3)):
        with pytest.raises(TypeError):
            TF.ctc_loss(
                torch.zeros(6, 2, 4),
                torch.ones(2, 3, dtype=torch.long),
                *[torch.tensor(v.tolist()) if isinstance(v, df.Tensor) else v for v in (il, tl)],
            )
        with pytest.raises(TypeError, match="ctc_loss"):
            F.ctc_loss(lp, tg, il, tl)


@pytest.mark.parametrize("lps,tgs,il,tl,kw", CTC_ERRORS)
def test_ctc_loss_errors_match_torch(lps, tgs, il, tl, kw):
    targets = np.ones(tgs, dtype=np.int64)
    want = _raised(lambda: TF.ctc_loss(torch.zeros(lps), torch.tensor(targets), il, tl, **kw))
    got = _raised(lambda: F.ctc_loss(df.zeros(lps), df.tensor(targets), il, tl, **kw))
    assert got[0] is want[0] and got[1] == want[1]


def test_ctc_loss_empty_targets(device):
    lp = torch.randn(5, 2, 3, dtype=torch.float64).log_softmax(2)
    for targets, tg_lens in (
        (np.zeros((2, 0), dtype=np.int64), [0, 0]),
        (np.array([[1], [2]]), [1, 0]),
    ):
        ref = TF.ctc_loss(lp, torch.tensor(targets), [5, 4], tg_lens, reduction="none")
        out = F.ctc_loss(
            df.tensor(lp.numpy(), device=device),
            df.tensor(targets, device=device),
            [5, 4],
            tg_lens,
            reduction="none",
        )
        np.testing.assert_allclose(_np(out), ref.numpy(), rtol=1e-12)
