# A VAE in the style of PyTorch's VAE example, on the 8x8 digits.
import torch
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import DataLoader

from deepforge.datasets import Digits


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 48)
        self.fc21 = nn.Linear(48, 8)
        self.fc22 = nn.Linear(48, 8)
        self.fc3 = nn.Linear(8, 48)
        self.fc4 = nn.Linear(48, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


torch.manual_seed(1)
loader = DataLoader(Digits(train=True), batch_size=64, shuffle=True)
model = VAE()
optimizer = optim.Adam(model.parameters(), lr=3e-3)
epoch_losses = []
for epoch in range(6):
    model.train()
    total = 0.0
    for data, _ in loader:
        optimizer.zero_grad()
        recon, mu, logvar = model(data)
        loss = loss_function(recon, data, mu, logvar)
        loss.backward()
        total += loss.item()
        optimizer.step()
    epoch_losses.append(total / len(loader.dataset))
with torch.no_grad():
    sample = model.decode(torch.randn(16, 8))
RESULT["first"], RESULT["last"] = epoch_losses[0], epoch_losses[-1]  # noqa: F821
RESULT["sample_shape"] = tuple(sample.shape)  # noqa: F821
