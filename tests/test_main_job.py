"""The main job, ``python -m deepforge.examples.digits``: trains an MLP on Digits to at
least 97% test accuracy and writes the model, the metrics and the curves."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import deepforge as df
from deepforge.examples import digits

pytestmark = pytest.mark.slow


def test_trains_to_97_percent_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    assert digits.main(["--epochs", "15", "--out", str(out), "--no-progress"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["test_accuracy"] >= 0.97, result["test_accuracy"]
    assert result["train_accuracy"] >= 0.99
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "epoch  15/15" in printed

    state = df.load(out / "model.pt")  # a plain state_dict: loads with weights_only=True
    model = digits.build_model("mlp")
    assert list(state) == list(model.state_dict())
    model.load_state_dict(state)
    images, labels = next(iter(df.utils.data.DataLoader(df.datasets.Digits(train=False),
                                                         batch_size=360)))
    with df.no_grad():
        acc = (model(images).argmax(1) == labels).float().mean().item()
    assert acc == pytest.approx(result["test_accuracy"])

    assert len(result["history"]["test_acc"]) == 15
    assert result["history"]["test_acc"][-1] == result["test_accuracy"]
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "curves.png").stat().st_size > 1000
    else:
        assert "matplotlib is not installed" in printed


def test_same_seed_same_result(tmp_path):
    args = ["--epochs", "1", "--no-progress", "--seed", "3"]
    a = digits.run(args + ["--out", str(tmp_path / "a")])
    b = digits.run(args + ["--out", str(tmp_path / "b")])
    assert a["history"] == b["history"]
    sa, sb = df.load(tmp_path / "a" / "model.pt"), df.load(tmp_path / "b" / "model.pt")
    for k in sa:
        assert sa[k].numpy().tobytes() == sb[k].numpy().tobytes()
    c = digits.run(args[:-1] + ["4", "--out", str(tmp_path / "c")])
    assert c["history"] != a["history"]


def test_arguments():
    with pytest.raises(SystemExit):
        digits.parse_args(["--model", "cnn"])
    with pytest.raises(SystemExit):
        digits.parse_args(["--epochs", "0"])
    args = digits.parse_args([])
    assert (args.model, args.epochs, args.batch_size, args.device) == ("mlp", 20, 32, "cpu")
    assert args.out == os.path.join("runs", "digits")


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "deepforge.examples.digits", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--batch-size" in out.stdout and "--device" in out.stdout


@pytest.mark.skipif(df.opencl.device_count() == 0, reason="no usable OpenCL device")
def test_opencl_run_matches_cpu_run(tmp_path):
    # same seed: the same Philox stream on both devices, so the same initial weights and batches;
    # float32 summation order differs between the backends, so the accuracies agree closely
    # rather than bit for bit
    args = ["--epochs", "6", "--no-progress", "--seed", "0"]
    cpu = digits.run(args + ["--out", str(tmp_path / "cpu")])
    ocl = digits.run(args + ["--device", "opencl", "--out", str(tmp_path / "ocl")])
    assert ocl["test_accuracy"] >= 0.95
    assert abs(ocl["test_accuracy"] - cpu["test_accuracy"]) <= 0.01
    for a, b in zip(cpu["history"]["train_loss"], ocl["history"]["train_loss"]):
        assert b == pytest.approx(a, rel=1e-3)
