"""``deepforge.backends.cudnn``: settable flags so scripts written for PyTorch run unchanged.

deepforge has no cuDNN; the flags are kept and read back but change nothing.
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = False


def is_available() -> bool:
    return False


def version():
    return None
