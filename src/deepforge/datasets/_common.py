"""What the image datasets share: uint8 images kept once, served as float tensors."""

from __future__ import annotations

import numpy as np

import deepforge
from deepforge.utils.data import Dataset
from deepforge.utils.data._utils.fetch import take_rows


class _ImageDataset(Dataset):
    """``data``: uint8 tensor (N, H, W); ``targets``: int64 tensor (N,); pixel values are
    divided by ``_max_value`` to give float32 images (1, H, W) in [0, 1]."""

    _max_value = 255.0
    classes: list[str] = []

    def _set_arrays(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.data = deepforge.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = deepforge.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
        scaled = images.astype(np.float32) / np.float32(self._max_value)
        self._images = deepforge.from_numpy(np.ascontiguousarray(scaled[:, None]))
        self._labels = labels.astype(np.int64).tolist()

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index):
        img, target = self._images[index], self._labels[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _batch_getter(self):
        """The DataLoader's whole-batch fetch (see ``utils.data._utils.fetch``): the same
        batches as collating ``self[i]`` one by one, when there are no transforms."""
        if self.transform is not None or self.target_transform is not None:
            return None
        images, labels = self._images, self.targets
        return lambda idx: [take_rows(images, idx), take_rows(labels, idx)]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Split: {self.split}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
           "7 - seven", "8 - eight", "9 - nine"]
