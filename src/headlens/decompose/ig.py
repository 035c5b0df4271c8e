"""Integrated gradients of an element-wise activation with a zero baseline, over summed inputs.

The feed-forward block applies ``act`` to a pre-activation ``h = sum_j h_j + h_bias``. Splitting
``act(h) - act(0)`` over the summands by integrated gradients along the straight path from 0
gives, for an element-wise ``act``, ``IG_j = h_j * r`` with the same ratio ``r`` for every
summand (Kobayashi et al. 2024):

    r = integral_0^1 act'(a h) da = (act(h) - act(0)) / h        (act'(0) where h = 0)

``closed_form_ratio`` is that exact value; ``stepped_ratio`` approximates the integral with
``steps`` evaluations of ``act'`` (midpoint Riemann or Gauss-Legendre) and converges to it.
Completeness: ``sum_j IG_j + IG_bias + act(0) = act(h)`` holds exactly for the closed form.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ModelError

RULES = ("riemann", "gauss")


def check_elementwise(act: nn.Module, where: str) -> None:
    """Refuse an activation whose output element k depends on more than input element k."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 16, generator=gen, dtype=torch.float64)
    y = x.clone()
    y[:, 1:] = torch.randn(3, 15, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        same = torch.equal(act(x)[:, 0], act(y)[:, 0]) and act(x).shape == x.shape
    if not same:
        raise ModelError(
            f"the feed-forward activation {type(act).__name__} at {where} is not element-wise; the integrated-"
            "gradients split of the feed-forward block is only defined here for element-wise activations "
            "(GELU, tanh-GELU, ReLU, SiLU, ...)."
        )


def activation_at_zero(act: nn.Module) -> tuple[float, float]:
    """``(act(0), act'(0))``, by autograd (call outside ``torch.inference_mode``)."""
    with torch.inference_mode(False), torch.enable_grad():
        z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        y = act(z)
        (grad,) = torch.autograd.grad(y.sum(), z)
    return float(y.detach()), float(grad)


def closed_form_ratio(h: torch.Tensor, act_h: torch.Tensor, act0: float, slope0: float) -> torch.Tensor:
    """``(act(h) - act(0)) / h`` element-wise, ``act'(0)`` where ``h == 0``."""
    zero = h == 0
    ratio = (act_h - act0) / torch.where(zero, torch.ones_like(h), h)
    return torch.where(zero, torch.full_like(h, slope0), ratio)


def quadrature(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in (0, 1) and weights summing to 1 for ``integral_0^1``."""
    if not isinstance(steps, int) or steps < 1:
        raise ModelError(f"integrated gradients need steps >= 1, got {steps!r}.")
    if rule == "riemann":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    if rule == "gauss":
        x, w = np.polynomial.legendre.leggauss(steps)
        return (x + 1) / 2, w / 2
    raise ModelError(f"unknown quadrature rule {rule!r}; use one of {RULES}.")


def stepped_ratio(act: nn.Module, h: torch.Tensor, steps: int, rule: str = "riemann") -> torch.Tensor:
    """``sum_m w_m act'(a_m h)``: the path integral by quadrature (autograd for ``act'``)."""
    nodes, weights = quadrature(steps, rule)
    total = torch.zeros_like(h)
    with torch.inference_mode(False), torch.enable_grad():
        base = h.detach().clone()
        for a, w in zip(nodes, weights):
            point = (base * float(a)).requires_grad_(True)
            (grad,) = torch.autograd.grad(act(point).sum(), point)
            total = total + float(w) * grad.detach()
    return total
