"""``deepforge.backends.mps``: no Metal backend (GPU work goes through OpenCL)."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
