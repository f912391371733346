"""The layering rules of DESIGN.md, checked by parsing imports; import-time behaviour."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "deepforge"


def _imports(path: Path):
    """Absolute module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(PKG.parent).with_suffix("").parts[:-1]  # "__init__" too
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            # "from . import backends" imports the submodule deepforge.backends
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.append((str(node.args[0].value), node.lineno))
    return out


def _files(sub):
    root = PKG / sub
    if not root.exists():
        return []
    return sorted(root.rglob("*.py")) if root.is_dir() else [root]


def _violations(files, forbidden):
    bad = []
    for f in files:
        for mod, line in _imports(f):
            if any(mod == p or mod.startswith(p + ".") for p in forbidden):
                bad.append(f"{f.relative_to(PKG.parent)}:{line} imports {mod}")
    return bad


@pytest.mark.parametrize("layer", ["nn", "optim", "utils"])
def test_upper_layers_never_touch_backends(layer):
    files = _files(layer)
    if not files:
        pytest.skip(f"deepforge.{layer} not present")
    assert not _violations(files, ["deepforge.backends", "deepforge._core"])


def test_backends_import_nothing_from_upper_layers():
    files = _files("backends")
    forbidden = [
        "deepforge.ops",
        "deepforge.nn",
        "deepforge.optim",
        "deepforge.tensor",
        "deepforge.autograd",
        "deepforge.utils",
    ]
    assert files and not _violations(files, forbidden)


def test_ops_reach_backends_only_through_dispatch():
    files = [f for f in _files("ops") + _files("autograd") if f.name != "_dispatch.py"]
    assert not _violations(files, ["deepforge.backends", "deepforge._core"])
    # and the checker does see an import when there is one
    assert _violations([PKG / "ops" / "_dispatch.py"], ["deepforge.backends"])


# -- import-time behaviour ---------------------------------------------------------------------
def _run(code):
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "default"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_import_without_pyopencl_is_silent():
    code = (
        "import sys\n"
        "sys.modules['pyopencl'] = None\n"  # makes `import pyopencl` raise ImportError
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    import deepforge as df\n"
        "    x = df.ones(3) * 2\n"
        "    assert x.sum().item() == 6.0\n"
        "    from deepforge.backends import opencl_device_count\n"
        "    assert opencl_device_count() == 0\n"
        "print('WARNINGS', len(w), [str(m.message) for m in w])\n"
    )
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert "WARNINGS 0 []" in r.stdout, r.stdout
    assert r.stderr == "", r.stderr


def test_import_does_not_create_opencl_context():
    code = (
        "import sys\n"
        "import deepforge\n"
        "print('pyopencl' in sys.modules and sys.modules['pyopencl'] is not None)\n"
    )
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False", "import deepforge must not import pyopencl"
