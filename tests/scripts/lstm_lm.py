# Word-level LSTM language model in the style of PyTorch's word_language_model example.
import math

import torch
import torch.nn as nn

torch.manual_seed(0)
words = open(CORPUS).read().split()  # noqa: F821
vocab = sorted(set(words))
idx = {w: i for i, w in enumerate(vocab)}
data = torch.tensor([idx[w] for w in words], dtype=torch.long)


def batchify(d, bsz):
    nbatch = d.size(0) // bsz
    return d.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.decoder.out_features)
        return nn.functional.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (
            weight.new_zeros(self.nlayers, bsz, self.nhid),
            weight.new_zeros(self.nlayers, bsz, self.nhid),
        )


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


train = batchify(data, 4)
bptt = 8
model = RNNModel(len(vocab), 32, 64, 2, dropout=0.0)
criterion = nn.NLLLoss()
lr = 20.0
losses = []
for epoch in range(40):
    model.train()
    hidden = model.init_hidden(4)
    total = 0.0
    n = 0
    for i in range(0, train.size(0) - 1, bptt):
        seq_len = min(bptt, len(train) - 1 - i)
        x, y = train[i : i + seq_len], train[i + 1 : i + 1 + seq_len].reshape(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(x, hidden)
        loss = criterion(output, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total += loss.item()
        n += 1
    losses.append(total / n)
RESULT["first"], RESULT["last"] = losses[0], losses[-1]  # noqa: F821
RESULT["ppl"] = math.exp(losses[-1])  # noqa: F821
