"""Grad-mode switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``."""

from __future__ import annotations

import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State:
    # one module-level flag read on every op: an attribute lookup, not a function call
    enabled = True
    inference = False


STATE = _State


def is_grad_enabled() -> bool:
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    return STATE.inference


class _GradModeContext:
    """Base for the context managers; instances also work as function decorators."""

    _mode = True

    def __enter__(self):
        self._prev = STATE.enabled
        STATE.enabled = self._mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev
        return False

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError(f"{type(self).__name__} cannot decorate a class")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):  # noqa: N801
    """Disable gradient recording; usable as ``with no_grad():`` or ``@no_grad()``."""

    _mode = False

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if callable(func):  # bare ``@no_grad`` decorator
            return self(func)
        return self


class enable_grad(_GradModeContext):  # noqa: N801
    _mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if callable(func):
            return self(func)
        return self


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set grad mode; takes effect immediately (like torch) and restores on ``__exit__``."""

    def __init__(self, mode: bool):
        self._prev = STATE.enabled
        self._mode = bool(mode)
        STATE.enabled = self._mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        STATE.enabled = self._prev
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return set_grad_enabled(self._mode)


class inference_mode(_GradModeContext):  # noqa: N801
    """Like ``no_grad`` (deepforge has no separate inference tensors)."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self._mode_flag = True
            return self(mode)
        self._mode_flag = bool(mode)
        return self

    def __init__(self, mode=True):
        pass

    def __enter__(self):
        self._prev = STATE.enabled
        self._prev_inf = STATE.inference
        if self._mode_flag:
            STATE.enabled = False
            STATE.inference = True
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev
        STATE.inference = self._prev_inf
        return False

    def __call__(self, fn):
        flag = self._mode_flag

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(flag):
                return fn(*args, **kwargs)

        return wrapper
