"""Gamma, Dirichlet and Beta distributions.

Samples come from Marsaglia and Tsang's rejection method (with the alpha < 1 boost
x U^(1/alpha)), run on the parameters' device. ``rsample`` is reparameterised by implicit
differentiation: with F the Gamma(alpha, 1) CDF, dx/dalpha = -(dF/dalpha)(x) / f(x), where
dF/dalpha is a central difference of the regularized incomplete gamma function (relative
error ~1e-7). Dirichlet and Beta samples are normalised Gamma samples, so their gradients
follow by the chain rule."""

from __future__ import annotations

from numbers import Number

import deepforge as df
from deepforge import Tensor
from deepforge.autograd import Function, once_differentiable
from deepforge.special import gammainc

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Beta", "Dirichlet", "Gamma"]

_MAX_ROUNDS = 200  # each round accepts >= 95% of the remaining draws
_ALPHA_STEP = 1e-3  # relative step of the central difference in alpha


def _standard_gamma(alpha: Tensor) -> Tensor:
    """One Gamma(alpha, 1) draw per element of alpha (no gradient)."""
    with df.no_grad():
        alpha = alpha.detach()
        boost = alpha < 1
        a = df.where(boost, alpha + 1, alpha)
        d = a - 1.0 / 3.0
        c = (9.0 * d).rsqrt()
        result = df.zeros_like(a)
        done = df.zeros_like(a, dtype=df.bool)
        for _ in range(_MAX_ROUNDS):
            x = df.randn_like(a)
            v = (1 + c * x) ** 3
            u = df.rand_like(a)
            accept = (v > 0) & (u.log() < 0.5 * x * x + d - d * v + d * v.log()) & ~done
            result = df.where(accept, d * v, result)
            done = done | accept
            if bool(done.all()):
                break
        u = df.rand_like(a)
        result = df.where(boost, result * u.pow(1.0 / alpha), result)
        return result.clamp(min=df.finfo(result.dtype).tiny)


def _standard_gamma_grad(alpha: Tensor, x: Tensor) -> Tensor:
    """dx/dalpha of a Gamma(alpha, 1) sample x at fixed CDF value."""
    h = alpha * _ALPHA_STEP
    dcdf = (gammainc(alpha + h, x) - gammainc(alpha - h, x)) / (2.0 * h)
    log_density = df.xlogy(alpha - 1.0, x) - x - df.lgamma(alpha)
    return -dcdf * (-log_density).exp()


class _ReparameterizedGamma(Function):
    @staticmethod
    def forward(ctx, alpha):
        x = _standard_gamma(alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        return g * _standard_gamma_grad(alpha, x)


def _rsample_standard_gamma(alpha: Tensor) -> Tensor:
    return _ReparameterizedGamma.apply(alpha) if alpha.requires_grad else _standard_gamma(alpha)


class Gamma(Distribution):
    """Gamma(concentration, rate)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        if isinstance(concentration, Number) and isinstance(rate, Number):
            batch_shape = df.Size()
        else:
            batch_shape = self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = df.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        value = _rsample_standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return value.clamp(min=df.finfo(value.dtype).tiny)

    def log_prob(self, value):
        value = df.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (
            df.xlogy(self.concentration, self.rate)
            + df.xlogy(self.concentration - 1, value)
            - self.rate * value
            - df.lgamma(self.concentration)
        )

    def entropy(self):
        c = self.concentration
        return c - df.log(self.rate) + df.lgamma(c) + (1.0 - c) * df.digamma(c)


class Dirichlet(Distribution):
    """Dirichlet(concentration) over the simplex of the last dim."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape, event_shape = concentration.shape[:-1], concentration.shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = df.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        g = _rsample_standard_gamma(self.concentration.expand(shape))
        x = g / g.sum(-1, keepdim=True)
        finfo = df.finfo(x.dtype)
        return x.clamp(min=finfo.tiny, max=1 - finfo.eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return df.xlogy(c - 1.0, value).sum(-1) + df.lgamma(c.sum(-1)) - df.lgamma(c).sum(-1)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self) -> Tensor:
        concentrationm1 = (self.concentration - 1).clamp(min=0.0)
        mode = concentrationm1 / concentrationm1.sum(-1, True)
        mask = (self.concentration < 1).all(dim=-1, keepdim=True)
        if bool(mask.any()):
            k = mode.shape[-1]
            vertex = df.nn.functional.one_hot(mode.argmax(-1), k).to(mode.dtype)
            mode = df.where(mask, vertex, mode)
        return mode

    @property
    def variance(self) -> Tensor:
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.size(-1)
        a0 = c.sum(-1)
        return (
            df.lgamma(c).sum(-1)
            - df.lgamma(a0)
            - (k - a0) * df.digamma(a0)
            - ((c - 1.0) * df.digamma(c)).sum(-1)
        )


class Beta(Distribution):
    """Beta(concentration1, concentration0) on the unit interval."""

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        if isinstance(concentration1, Number) and isinstance(concentration0, Number):
            concentration1_concentration0 = df.tensor(
                [float(concentration1), float(concentration0)]
            )
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            concentration1_concentration0 = df.stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(concentration1_concentration0, validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = df.Size(batch_shape)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()) -> Tensor:
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = df.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self):
        return self._dirichlet.entropy()

    @property
    def concentration1(self) -> Tensor:
        result = self._dirichlet.concentration[..., 0]
        return result

    @property
    def concentration0(self) -> Tensor:
        return self._dirichlet.concentration[..., 1]
