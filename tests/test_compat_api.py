"""The PyTorch surface scripts touch beyond ops and layers (accelerator, cuda, flags, legacy
types, thread control, whole-model save/load with allow-listed classes, the torch alias)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys

import pytest

import deepforge as df
import deepforge.nn as nn


def test_accelerator_is_first_opencl_device():
    n = df.backends.opencl_device_count()
    assert df.accelerator.is_available() == (n > 0)
    assert df.accelerator.device_count() == n
    acc = df.accelerator.current_accelerator()
    if n:
        assert acc == df.device("opencl", 0)
        assert df.accelerator.current_device_index() == 0
        df.accelerator.synchronize()
    else:
        assert acc is None


def test_device_agnostic_idiom_trains_on_selected_device():
    device = (
        df.accelerator.current_accelerator() if df.accelerator.is_available() else df.device("cpu")
    )
    model = nn.Linear(4, 2).to(device)
    x = df.randn(8, 4, device=device)
    loss = model(x).pow(2).mean()
    loss.backward()
    assert model.weight.grad.device == model.weight.device
    assert str(model.weight.device).startswith(device.type)


def test_cuda_and_mps_report_unavailable():
    assert df.cuda.is_available() is False
    assert df.cuda.device_count() == 0
    assert df.backends.mps.is_available() is False
    df.cuda.manual_seed_all(0)  # a no-op, as in CUDA-less PyTorch


def test_cudnn_flags_settable():
    old = (df.backends.cudnn.benchmark, df.backends.cudnn.deterministic, df.backends.cudnn.enabled)
    try:
        df.backends.cudnn.benchmark = True
        df.backends.cudnn.deterministic = True
        df.backends.cudnn.enabled = False
        assert df.backends.cudnn.benchmark and df.backends.cudnn.deterministic
        assert not df.backends.cudnn.enabled
    finally:
        (
            df.backends.cudnn.benchmark,
            df.backends.cudnn.deterministic,
            df.backends.cudnn.enabled,
        ) = old


def test_cuda_device_error_names_available_devices():
    with pytest.raises(RuntimeError, match=r"cuda.*deepforge runs on these devices here: cpu"):
        df.device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        df.ones(2).cuda()


def test_deterministic_threads_printoptions():
    df.use_deterministic_algorithms(True)
    assert df.are_deterministic_algorithms_enabled()
    df.use_deterministic_algorithms(False)
    n = df.get_num_threads()
    df.set_num_threads(1)
    assert df.get_num_threads() == 1
    df.set_num_threads(n)
    assert df.get_num_threads() == n
    with pytest.raises(RuntimeError):
        df.set_num_threads(0)
    df.set_printoptions(precision=2)
    try:
        assert repr(df.tensor([1.23456])) == "tensor([1.23])"
    finally:
        df.set_printoptions(profile="default")
    assert repr(df.tensor([1.23456])) == "tensor([1.2346])"


def test_legacy_tensor_types_and_helpers():
    t = df.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype is df.float32
    assert df.Tensor([1, 2]).dtype is df.float32
    assert isinstance(df.ones(2), df.Tensor)
    assert df.FloatTensor(2, 2).dtype is df.float32
    assert df.LongTensor([1, 2]).dtype is df.int64
    assert df.DoubleTensor([1.0]).dtype is df.float64
    assert df.BoolTensor([True]).dtype is df.bool
    assert isinstance(df.ones(2), df.FloatTensor)
    assert not isinstance(df.ones(2), df.LongTensor)
    assert df.is_tensor(df.ones(1)) and not df.is_tensor([1])
    assert df.is_floating_point(df.ones(1)) and not df.is_floating_point(df.ones(1, dtype=df.long))
    assert df.numel(df.ones(2, 3)) == 6
    assert df.typename(df.ones(1)) == "deepforge.FloatTensor"
    assert (df.float, df.half, df.double, df.long, df.int, df.short, df.bool) == (
        df.float32,
        df.float16,
        df.float64,
        df.int64,
        df.int32,
        df.int16,
        df.bool,
    )


def _model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_whole_model_roundtrip_with_safe_globals():
    m = _model()
    buf = io.BytesIO()
    df.save(m, buf)
    buf.seek(0)
    with df.serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):
        m2 = df.load(buf)
    x = df.randn(5, 3)
    assert df.equal(m(x), m2(x))
    buf.seek(0)
    m3 = df.load(buf, weights_only=False)
    assert df.equal(m(x), m3(x))


def test_whole_model_refused_without_allow_list():
    buf = io.BytesIO()
    df.save(_model(), buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Sequential"):
        df.load(buf)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_file_naming_unlisted_callable_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    f = tmp_path / "evil.pt"
    df.save({"w": df.ones(2), "x": _Evil(marker)}, f)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        df.load(f)
    assert not marker.exists()


def test_torch_alias_resolves_submodules():
    code = (
        "import deepforge.compat; deepforge.compat.install_torch_alias()\n"
        "import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "from torch.utils.data.dataloader import default_collate\n"
        "from torch.nn.modules.linear import Linear\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "assert torch.nn is nn and Linear is nn.Linear and torch.__name__ == 'deepforge'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_torch_alias_imports_any_submodule_as_the_same_module():
    # submodules not imported when the alias was installed resolve to deepforge's own module
    # objects, never a second copy (isinstance and `is` checks must hold across both names)
    code = (
        "import deepforge.compat; deepforge.compat.install_torch_alias()\n"
        "import deepforge\n"
        "import torch.distributions as D\n"
        "import torch.nn.utils.parametrize as P\n"
        "from torch.utils.checkpoint import checkpoint\n"
        "from torch.utils.data.distributed import DistributedSampler\n"
        "import torch.special, torch.testing, torch.amp, torch.func\n"
        "assert D is deepforge.distributions and D.__spec__.name == 'deepforge.distributions'\n"
        "assert P is deepforge.nn.utils.parametrize\n"
        "assert checkpoint is deepforge.utils.checkpoint.checkpoint\n"
        "assert DistributedSampler is deepforge.utils.data.DistributedSampler\n"
        "assert torch.special is deepforge.special and torch.amp is deepforge.amp\n"
        "try:\n"
        "    import torch.no_such_module\n"
        "except ModuleNotFoundError as e:\n"
        "    assert 'torch.no_such_module' in str(e)\n"
        "else:\n"
        "    raise AssertionError('imported a module that does not exist')\n"
        "deepforge.compat.uninstall_torch_alias()\n"
        "import sys\n"
        "assert not any(k == 'torch' or k.startswith('torch.') for k in sys.modules if\n"
        "               getattr(sys.modules[k], '__name__', '').startswith('deepforge'))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
