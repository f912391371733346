"""deepforge: a deep-learning framework with PyTorch's API.

Tensors with dynamic autograd, ``nn``, ``optim`` and data loading; Cython kernels on the CPU
and OpenCL kernels on any GPU, behind one backend registry. ``import deepforge as torch``.
"""

from __future__ import annotations

import builtins as _builtins
import importlib as _importlib

from . import _dtype
from ._device import device
from ._dtype import (
    bool_ as bool,  # noqa: A001 - torch.bool
)
from ._dtype import (
    complex64,
    complex128,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    set_default_dtype,
    uint8,
)
from ._legacy import (  # noqa: F401
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from ._nn_aliases import *  # noqa: F401,F403 - torch.conv2d, torch.layer_norm, ...
from ._printing import set_printoptions
from ._runtime_flags import *  # noqa: F401,F403 - torch.set_anomaly_enabled, torch.strided
from ._tensor_extra import *  # noqa: F401,F403 - also attaches Tensor.unfold, .resize_, ...
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .ops import *  # noqa: F401,F403
from .ops import creation as _creation
from .ops.binning import *  # noqa: F401,F403
from .ops.linalg_compose import (  # torch.inverse, torch.qr ... (methods attached below)
    attach_tensor_methods as _attach_linalg_methods,
)
from .ops.linalg_compose import (
    cholesky_inverse,
    cholesky_solve,
    pinverse,
    triangular_solve,
    vander,
)
from .ops.linalg_compose import legacy_cholesky as cholesky
from .ops.linalg_compose import legacy_lu as lu
from .ops.linalg_compose import legacy_lu_solve as lu_solve
from .ops.linalg_compose import legacy_qr as qr
from .ops.linalg_compose import linalg_matrix_exp as matrix_exp
from .ops.linalg_compose import linalg_matrix_power as matrix_power
from .ops.linalg_factor import geqrf, lu_unpack
from .ops.linalg_solve import linalg_det as det
from .ops.linalg_solve import linalg_inv as inverse
from .ops.linalg_solve import logdet
from .ops.math_extra import *  # noqa: F401,F403
from .ops.random import default_generator  # noqa: F401
from .ops.scatter_extra import *  # noqa: F401,F403
from .ops.shape_extra import *  # noqa: F401,F403
from .ops.signal_extra import *  # noqa: F401,F403
from .serialization import load, save
from .tensor import Size, Tensor

_attach_linalg_methods()


def slogdet(input: Tensor):
    """``torch.slogdet``: sign and log|det| of square matrices."""
    from .ops.linalg_compose import LEGACY_SLOGDET
    from .ops.linalg_solve import linalg_slogdet

    return LEGACY_SLOGDET(*linalg_slogdet(input))


__version__ = "0.1.0"

from .amp.autocast_mode import (  # noqa: F401,E402 - torch.autocast and its state functions
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)

half = float16
float = float32  # noqa: A001
double = float64
short = int16
int = int32  # noqa: A001
long = int64
cfloat = complex64
cdouble = complex128
range = _creation.range_  # noqa: A001


class _DefaultDevice:
    """The device factory functions use when none is given (``set_default_device``)."""

    _dev = device("cpu")

    @classmethod
    def get(cls):
        return cls._dev

    @classmethod
    def set(cls, dev):
        from ._device import canonical

        cls._dev = canonical(dev if dev is not None else "cpu")


_default_device = _DefaultDevice


def set_default_device(dev) -> None:
    _default_device.set(dev)


def get_default_device():
    return _default_device.get()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_storage(obj) -> bool:
    return False


def is_floating_point(input: Tensor) -> bool:
    return input.dtype.is_floating_point


def is_complex(input: Tensor) -> bool:
    return input.dtype.is_complex


def is_nonzero(input: Tensor) -> bool:
    return input.__bool__()


def numel(input: Tensor) -> int:
    return input.numel()


def typename(obj) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__module__ + "." + type(obj).__qualname__


def result_type(tensor1, tensor2) -> dtype:
    return _dtype.result_type(tensor1, tensor2)


def can_cast(from_: dtype, to: dtype) -> bool:
    return from_.category <= to.category or (from_.category == to.category)


class finfo:  # noqa: N801
    def __init__(self, type=None):
        import numpy as np

        d = _dtype.to_dtype(type) if type is not None else get_default_dtype()
        fi = np.finfo(d.np)
        self.bits = fi.bits
        self.eps = _builtins.float(fi.eps)
        self.max = _builtins.float(fi.max)
        self.min = _builtins.float(fi.min)
        self.tiny = _builtins.float(fi.tiny)
        self.smallest_normal = _builtins.float(fi.tiny)
        self.resolution = _builtins.float(fi.resolution)
        self.dtype = d.name


class iinfo:  # noqa: N801
    def __init__(self, type):
        import numpy as np

        d = _dtype.to_dtype(type)
        ii = np.iinfo(d.np)
        self.bits = ii.bits
        self.max = _builtins.int(ii.max)
        self.min = _builtins.int(ii.min)
        self.dtype = d.name


_deterministic = False
_deterministic_warn_only = False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """deepforge's kernels are deterministic already (no atomics-order dependence on the
    CPU; OpenCL float atomics are only used where PyTorch's are nondeterministic too)."""
    global _deterministic, _deterministic_warn_only
    _deterministic = _builtins.bool(mode)
    _deterministic_warn_only = _builtins.bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic


def set_num_threads(n: int) -> None:
    """Threads used by deepforge's CPU kernels (OpenMP in _core)."""
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    try:
        from . import _core

        _core.set_num_threads(_builtins.int(n))  # `int` is deepforge.int (int32) here
    except (ImportError, AttributeError):
        pass
    _threads[0] = _builtins.int(n)


def get_num_threads() -> int:
    try:
        from . import _core

        return _builtins.int(_core.num_threads())
    except (ImportError, AttributeError):
        return _threads[0]


def get_num_interop_threads() -> int:
    return 1


def set_num_interop_threads(n: int) -> None:
    """deepforge runs ops on the calling thread; kept for API compatibility."""


_threads = [__import__("os").cpu_count() or 1]


def compile(model=None, **kwargs):  # noqa: A001 - torch.compile is a no-op here
    """``torch.compile`` stand-in: returns the model unchanged (deepforge runs eagerly)."""
    if model is None:
        return lambda m: m
    return model


_LAZY = {
    "nn",
    "optim",
    "utils",
    "opencl",
    "datasets",
    "examples",
    "backends",
    "autograd",
    "linalg",
    "special",
    "testing",
    "serialization",
    "compat",
    "accelerator",
    "cuda",
    "cpu",
    "func",
    "fft",
    "distributions",
    "random",
    "jit",
    "amp",
    "mps",
    "overrides",
    "types",
    "hub",
    "library",
    "multiprocessing",
    "profiler",
    "onnx",
}


def __getattr__(name):
    if name in _LAZY:
        try:
            mod = _importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            # a submodule PyTorch has and deepforge does not (yet): hasattr() must say False
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'deepforge' has no attribute '{name}'") from None
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'deepforge' has no attribute '{name}'")
