"""Recurrent cell and layer math for ``nn``: the names of ``deepforge.ops.recurrent``, where the
Functions that call backend kernels live (nn itself never touches a backend)."""

from deepforge.ops import recurrent as _impl

globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})
__all__ = list(_impl.__all__)
