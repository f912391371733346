"""Timing helpers shared by the benchmarks: min-of-repeats wall time, side-by-side tables."""

from __future__ import annotations

import os
import time


def timeit(fn, *, repeat: int = 7, number: int | None = None, min_time: float = 0.05) -> float:
    """Best seconds per call of ``fn`` (auto-scales ``number`` so one sample lasts >= min_time)."""
    fn()
    if number is None:
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            dt = time.perf_counter() - t0
            if dt >= min_time or number >= 1 << 20:
                break
            number *= 2
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:8.2f} us"
    if s < 1:
        return f"{s * 1e3:8.3f} ms"
    return f"{s:8.3f} s "


def print_table(rows, title: str) -> None:
    """rows: (name, deepforge seconds, reference seconds or None, target ratio or None)."""
    print(f"\n## {title}")
    print(f"{'case':44s} {'deepforge':>12s} {'pytorch':>12s} {'ratio':>7s} {'target':>7s}")
    for name, ours, ref, target in rows:
        ratio = ours / ref if ref else float("nan")
        ok = "" if target is None or ref is None else ("ok" if ratio <= target else "SLOW")
        print(
            f"{name:44s} {fmt_time(ours):>12s} {fmt_time(ref) if ref else '-':>12s} "
            f"{ratio:7.2f} {('<=' + str(target)) if target else '':>7s} {ok}"
        )


def env_note() -> str:
    keys = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    return (
        ("note: " + ", ".join(keys) + " set (they slow BLAS; run with env -u ...)")
        if keys
        else "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"
    )


def torch_or_none():
    try:
        import torch

        return torch
    except ImportError:
        return None
