"""Train an MLP on the UCI hand-written digits and report its test accuracy.

    python -m deepforge.examples.digits [--epochs 20] [--device cpu|opencl] [--out runs/digits]
    deepforge-digits ...                       (the same, as an installed console script)

It is an ordinary PyTorch training script with ``import deepforge as torch``: a
``DataLoader`` over ``deepforge.datasets.Digits`` (1,437 train / 360 test 8x8 images), an
MLP 64-128-64-10 with ReLU, cross-entropy, Adam with a cosine learning-rate schedule. It
writes ``model.pt`` (the state_dict), ``metrics.json`` and, when matplotlib is installed,
``curves.png`` to ``--out``. The same ``--seed`` gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import deepforge as torch
from deepforge import nn, optim
from deepforge.datasets import Digits
from deepforge.utils.data import DataLoader

MODELS = ("mlp",)


def build_model(name: str) -> nn.Module:
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="deepforge-digits",
        description="Train an MLP on the UCI hand-written digits with deepforge.",
    )
    p.add_argument("--model", choices=MODELS, default="mlp", help="network to train")
    p.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam's initial learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    p.add_argument("--device", default="cpu", help="cpu, opencl or opencl:N")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--out", default=os.path.join("runs", "digits"),
                   help="folder for model.pt, metrics.json and curves.png")
    p.add_argument("--no-progress", action="store_true", help="plain lines, no progress bar")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        p.error("--epochs and --batch-size must be positive, --lr greater than 0")
    return args


def evaluate(model, loader, device, loss_fn) -> tuple[float, float]:
    """(mean loss, accuracy) over ``loader``."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += loss_fn(logits, labels).item() * labels.shape[0]
            correct += (logits.argmax(1) == labels).sum().item()
            count += labels.shape[0]
    return total_loss / count, correct / count


def _progress(iterable, enabled: bool, **kwargs):
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(iterable, **kwargs)
        except ImportError:
            pass
    return None


def plot_curves(history: dict, path: str) -> bool:
    """Write loss and accuracy curves to ``path``; False (with a message) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the curves plot "
              "(pip install 'deepforge[examples]')")
        return False
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["train_loss"], label="train")
    ax1.plot(epochs, history["test_loss"], label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.set_title("Loss")
    ax1.legend()
    ax2.plot(epochs, history["train_acc"], label="train")
    ax2.plot(epochs, history["test_acc"], label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_title("Accuracy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def run(argv=None) -> dict:
    """Train, evaluate, save; returns the final metrics (and the history) as a dict."""
    args = parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    train_set, test_set = Digits(train=True), Digits(train=False)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.num_workers,
                              generator=torch.Generator().manual_seed(args.seed))
    train_eval_loader = DataLoader(train_set, batch_size=512)
    test_loader = DataLoader(test_set, batch_size=512)

    model = build_model(args.model).to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    bar = _progress(range(args.epochs), not args.no_progress, desc="digits", unit="epoch")
    for epoch in bar if bar is not None else range(args.epochs):
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        scheduler.step()
        train_loss, train_acc = evaluate(model, train_eval_loader, device, loss_fn)
        test_loss, test_acc = evaluate(model, test_loader, device, loss_fn)
        for key, value in zip(history, (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(value)
        if bar is not None:
            bar.set_postfix(loss=f"{train_loss:.4f}", test_acc=f"{test_acc:.2%}")
        else:
            print(f"epoch {epoch + 1:3d}/{args.epochs}  train loss {train_loss:.4f}  "
                  f"train acc {train_acc:.2%}  test loss {test_loss:.4f}  test acc {test_acc:.2%}")
    if bar is not None:
        bar.close()

    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "model.pt")
    torch.save(model.state_dict(), model_path)
    result = {
        "model": args.model, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "seed": args.seed, "device": str(device),
        "test_accuracy": history["test_acc"][-1], "test_loss": history["test_loss"][-1],
        "train_accuracy": history["train_acc"][-1], "train_loss": history["train_loss"][-1],
        "seconds": round(time.perf_counter() - start, 3), "history": history,
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    plotted = plot_curves(history, os.path.join(args.out, "curves.png"))
    print(f"test accuracy {result['test_accuracy']:.2%} ({len(test_set)} images) after "
          f"{args.epochs} epochs in {result['seconds']:.1f} s")
    curves = os.path.join(args.out, "curves.png")
    print(f"saved {model_path}" + (f" and {curves}" if plotted else ""))
    return result


def main(argv=None) -> int:
    """The command line (``deepforge-digits``): ``run`` it, exit status 0."""
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
