# DCGAN-style generator/discriminator steps (ConvTranspose2d + BatchNorm2d), on 8x8 digits.
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader

from deepforge.datasets import Digits

nz, ngf, ndf = 8, 16, 16


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 2, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


torch.manual_seed(0)
netG, netD = Generator(), Discriminator()
netG.apply(weights_init)
netD.apply(weights_init)
criterion = nn.BCELoss()
optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
loader = DataLoader(Digits(train=True, transform=lambda x: x * 2 - 1), batch_size=32, shuffle=True)
d_before = [p.detach().clone() for p in netD.parameters()]
errs = []
for i, (real, _) in enumerate(loader):
    netD.zero_grad()
    b = real.size(0)
    label = torch.full((b,), 1.0)
    errD_real = criterion(netD(real), label)
    errD_real.backward()
    fake = netG(torch.randn(b, nz, 1, 1))
    label.fill_(0.0)
    errD_fake = criterion(netD(fake.detach()), label)
    errD_fake.backward()
    optimizerD.step()
    netG.zero_grad()
    label.fill_(1.0)
    errG = criterion(netD(fake), label)
    errG.backward()
    optimizerG.step()
    errs.append((errD_real.item() + errD_fake.item(), errG.item()))
    if i == 4:
        break
RESULT["fake_shape"] = tuple(fake.shape)  # noqa: F821
RESULT["finite"] = all(abs(a) < 1e6 and abs(b) < 1e6 for a, b in errs)  # noqa: F821
RESULT["d_changed"] = any(
    bool((p.detach() != q).any()) for p, q in zip(netD.parameters(), d_before)
)  # noqa: F821
