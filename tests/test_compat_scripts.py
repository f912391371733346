"""PyTorch-style training scripts run unchanged through ``deepforge.compat.install_torch_alias``.

Each script (tests/scripts/*.py) is written against ``torch``; it runs in a fresh process in
which ``import torch`` resolves to deepforge, and reports into a ``RESULT`` dict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

_RUNNER = """
import json, sys
import deepforge.compat
deepforge.compat.install_torch_alias()
RESULT = {}
g = {"RESULT": RESULT, "CORPUS": sys.argv[2], "DEVICE_OVERRIDE": sys.argv[3] or None,
     "__name__": "__main__"}
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), g)
import torch
assert torch.__name__ == "deepforge", torch.__name__
print("RESULT=" + json.dumps(RESULT))
"""


def run_script(name: str, device: str = "") -> dict:
    script = os.path.join(HERE, "scripts", name)
    corpus = os.path.join(HERE, "data", "tiny_corpus.txt")
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, script, corpus, device],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT=")][-1]
    return json.loads(line[len("RESULT=") :])


def test_cnn_digits_learns():
    r = run_script("cnn_digits.py", "cpu")
    assert r["accuracy"] >= 0.95, r


def test_cnn_digits_device_agnostic_picks_accelerator():
    import deepforge

    r = run_script("cnn_digits.py", "")
    expected = "opencl:0" if deepforge.accelerator.is_available() else "cpu"
    assert r["device"] == expected
    assert r["accuracy"] >= 0.95, r


def test_word_language_model_learns():
    r = run_script("lstm_lm.py")
    assert r["last"] < 0.6 * r["first"], r


def test_lbfgs_sine_fit_learns():
    r = run_script("lbfgs_sine.py")
    assert r["last"] < r["first"] and r["last"] < 1e-2, r


def test_vae_learns():
    r = run_script("vae.py")
    assert r["last"] < 0.9 * r["first"], r
    assert r["sample_shape"] == [16, 64]


def test_dcgan_steps_run():
    r = run_script("dcgan_step.py")
    assert r["fake_shape"] == [32, 1, 8, 8]
    assert r["finite"] and r["d_changed"], r


@pytest.mark.parametrize(
    "path",
    [
        "nn.modules.linear.Linear",
        "nn.modules.sparse.Embedding",
        "nn.modules.rnn.LSTM",
        "nn.modules.transformer.TransformerEncoderLayer",
        "nn.modules.activation.MultiheadAttention",
        "nn.modules.normalization.LayerNorm",
        "nn.modules.container.ModuleList",
        "nn.modules.dropout.Dropout",
        "nn.modules.conv.Conv2d",
        "nn.modules.pooling.MaxPool2d",
        "nn.modules.batchnorm.BatchNorm2d",
        "nn.modules.loss.CrossEntropyLoss",
        "nn.modules.flatten.Flatten",
        "nn.parallel.DataParallel",
        "nn.parallel.DistributedDataParallel",
        "utils.data.dataloader.default_collate",
        "utils.data.dataloader.DataLoader",
        "utils.data.dataset.TensorDataset",
        "utils.data.sampler.RandomSampler",
        "optim.lr_scheduler.StepLR",
        "optim.adam.Adam",
        "nn.utils.rnn.pad_sequence",
    ],
)
def test_pytorch_module_paths(path):
    import importlib

    mod, _, name = path.rpartition(".")
    m = importlib.import_module("deepforge." + mod)
    assert hasattr(m, name), path
