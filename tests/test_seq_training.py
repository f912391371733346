"""Small sequence models that must learn, on every device: a character-level LSTM language
model on repeating patterns and a Transformer-encoder classifier of sequence majority."""

from __future__ import annotations

import numpy as np

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F


class CharLM(nn.Module):
    def __init__(self, vocab, emb=16, hidden=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        y, state = self.rnn(self.emb(x), state)
        return self.out(y), state


def _pattern_batches(rng, vocab, batch, seq):
    """Each row repeats a random one of three fixed patterns from a random phase."""
    patterns = [np.array(p) % vocab for p in ([0, 1, 2, 3], [4, 5, 6, 7, 6, 5], [1, 3, 5, 7, 2])]
    rows = []
    for _ in range(batch):
        p = patterns[rng.integers(len(patterns))]
        start = rng.integers(len(p))
        rows.append(np.resize(np.roll(p, -start), seq + 1))
    data = np.stack(rows)
    return data[:, :-1], data[:, 1:]


def test_char_lstm_language_model_learns(device):
    rng = np.random.default_rng(0)
    df.manual_seed(0)
    vocab = 8
    model = CharLM(vocab).to(device)
    opt = df.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        x, y = _pattern_batches(rng, vocab, 16, 16)
        logits, _ = model(df.tensor(x, device=device))
        loss = F.cross_entropy(logits.reshape(-1, vocab), df.tensor(y.reshape(-1), device=device))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[:5]) > 1.5  # log(8) = 2.08 at chance
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses[::10]
    model.eval()  # generation continues a pattern it has seen
    with df.no_grad():
        logits, state = model(df.tensor([[0, 1, 2, 3, 0, 1]], device=device))
        assert int(logits[0, -1].argmax()) == 2


class MajorityClassifier(nn.Module):
    def __init__(self, d=16, seq=9):
        super().__init__()
        self.tok = nn.Embedding(2, d)
        self.pos = nn.Parameter(df.randn(seq, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, x):
        return self.head(self.encoder(self.tok(x) + self.pos).mean(1))


def test_transformer_classifier_learns(device):
    rng = np.random.default_rng(1)
    df.manual_seed(1)
    model = MajorityClassifier().to(device)
    opt = df.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(80):
        x = rng.integers(0, 2, (32, 9))
        y = (x.sum(1) > 4).astype(np.int64)
        loss = F.cross_entropy(model(df.tensor(x, device=device)), df.tensor(y, device=device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), losses[::10]
    x = rng.integers(0, 2, (200, 9))
    with df.no_grad():
        pred = model(df.tensor(x, device=device)).argmax(1).cpu().numpy()
    assert (pred == (x.sum(1) > 4)).mean() > 0.85
