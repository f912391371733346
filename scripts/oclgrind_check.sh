#!/usr/bin/env bash
# Run every OpenCL kernel family of deepforge under Oclgrind (an OpenCL simulator that checks
# memory accesses, data races and uninitialised values), in the CPU and the GPU kernel layout.
# Fails when Oclgrind reports anything or a result differs from numpy.
#   usage: scripts/oclgrind_check.sh          (needs the `oclgrind` package and pyopencl)
set -u
cd "$(dirname "$0")/.."
command -v oclgrind >/dev/null || { echo "oclgrind not found (apt-get install oclgrind)"; exit 2; }
export DEEPFORGE_OPENCL_PLATFORM=Oclgrind
# optimised code contains `freeze` instructions, which the uninitialised-value checker rejects
export DEEPFORGE_OPENCL_BUILD_OPTIONS=-cl-opt-disable
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
status=0
for layout in cpu gpu; do
    log=$(mktemp)
    echo "== Oclgrind, $layout layout"
    DEEPFORGE_OPENCL_DEVICE_TYPE=$layout oclgrind --data-races --uninitialized \
        python scripts/oclgrind_kernels.py >"$log" 2>&1
    rc=$?
    cat "$log"
    if [ $rc -ne 0 ]; then
        echo "FAILED: the program exited with status $rc"; status=1
    fi
    if grep -qiE "invalid (read|write|access)|data race|uninitiali[sz]ed|divergence|out of bounds|oclgrind.*(error|fatal)" "$log"; then
        echo "FAILED: Oclgrind reported errors ($layout layout)"; status=1
    fi
    if ! grep -q "all kernel families ok" "$log"; then
        echo "FAILED: the program did not finish ($layout layout)"; status=1
    fi
    rm -f "$log"
done
[ $status -eq 0 ] && echo "oclgrind check passed"
exit $status
