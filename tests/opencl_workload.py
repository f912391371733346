"""A script exercising every kind of OpenCL launch, for tests that run it under different
launch settings and require bitwise-equal results (argv[1]: where to save them)."""

# a plan launch (binary/unary fast path), scalar operands of each kind, general launches
# (strided, broadcast, reductions, matmul), integer and float64 kernels
WORKLOAD = """
import numpy as np
import deepforge as df
rng = np.random.default_rng(0)
a = df.tensor(rng.standard_normal((5, 7)), dtype=df.float32, device="opencl")
b = df.tensor(rng.standard_normal((7,)), dtype=df.float32, device="opencl")
i = df.tensor(rng.integers(-9, 9, (5, 7)), device="opencl")
d = a.double()
outs = [a + a, a * 2.5, 3.0 - a, (-a).exp(), a + b, a.t() * 2, a.sum(1), a.amax(0),
        a @ a.t(), i * 3, i + i, i // 2, d * 1.5, d.sum(), a.softmax(-1), a[:, ::2] + 1,
        (a > 0).float(), df.where(a > 0, a, b)]
np.save(__import__("sys").argv[1], np.concatenate([o.cpu().double().numpy().ravel() for o in outs]))
"""
