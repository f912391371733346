"""Datasets: ``Digits`` (shipped with deepforge) and ``MNIST`` (read from local IDX files).

Both follow torchvision's dataset conventions: ``dataset[i]`` is ``(image, label)``,
``transform`` is applied to the image and ``target_transform`` to the label. The image is
a float32 tensor ``(1, H, W)`` scaled to [0, 1], what torchvision's ``ToTensor`` gives.
"""

from __future__ import annotations

from .digits import Digits
from .mnist import MNIST, read_idx

__all__ = ["Digits", "MNIST", "read_idx"]
