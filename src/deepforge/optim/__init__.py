"""``deepforge.optim``: optimizers and learning-rate schedulers with ``torch.optim``'s API.

Updates run under ``no_grad`` with in-place Tensor ops (so they run on every backend); SGD
and Adam/AdamW use a backend's fused kernel when it has one.
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "ASGD", "Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "LBFGS", "NAdam", "Optimizer",
    "RAdam", "RMSprop", "Rprop", "SGD", "lr_scheduler",
]
