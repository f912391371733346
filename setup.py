"""Build script: compiles the Cython CPU kernels (with OpenMP when the compiler has it)
and ships the OpenCL kernel sources inside the package."""

import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _compiler_accepts(flag: str) -> bool:
    """Compile and link a tiny OpenMP program with `flag` to see whether it works."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    cc = new_compiler()
    customize_compiler(cc)
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
        objs = cc.compile([src], output_dir=tmp, extra_postargs=[flag])
        cc.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=[flag])
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _openmp_flags() -> list[str]:
    if os.environ.get("DEEPFORGE_NO_OPENMP"):
        return []
    flag = "/openmp" if sys.platform == "win32" else "-fopenmp"
    if _compiler_accepts(flag):
        return [flag]
    warnings.warn("deepforge: the C compiler has no OpenMP; building serial CPU kernels", stacklevel=1)
    return []


def _extensions():
    from Cython.Build import cythonize

    omp = _openmp_flags()
    opt = [] if sys.platform == "win32" else ["-O3", "-ffast-math", "-fno-finite-math-only"]
    ext = Extension(
        "deepforge._core",
        ["src/deepforge/_core.pyx"],
        include_dirs=[np.get_include()],
        extra_compile_args=opt + omp,
        extra_link_args=omp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    # the OpenCL backend's direct launch path: plain C calls through function pointers handed
    # over at run time, so it links nothing and builds wherever Cython does
    launch = Extension(
        "deepforge._cl_launch", ["src/deepforge/_cl_launch.pyx"], extra_compile_args=opt
    )
    return cythonize(
        [ext, launch],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


class BuildPyWithKernels(build_py):
    """Copy the top-level opencl/*.cl sources into deepforge/_opencl/ of the build."""

    def run(self):
        super().run()
        src_dir = os.path.join(HERE, "opencl")
        dst_dir = os.path.join(self.build_lib, "deepforge", "_opencl")
        _copy_kernels(src_dir, dst_dir)


def _copy_kernels(src_dir: str, dst_dir: str) -> None:
    if not os.path.isdir(src_dir):
        return
    os.makedirs(dst_dir, exist_ok=True)
    for name in os.listdir(src_dir):
        if name.endswith((".cl", ".h")):
            shutil.copy2(os.path.join(src_dir, name), os.path.join(dst_dir, name))


setup(ext_modules=_extensions(), cmdclass={"build_py": BuildPyWithKernels})
