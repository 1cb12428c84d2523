"""Adversarial losses: WGAN-GP (Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017) as used by
the paper's Eq. 3 and Eq. 11, and the hinge loss of SN-PatchGAN / PEN-Net baselines.

The gradient penalty is DDP-safe: it takes the input gradient with `torch.autograd.grad(create_graph=True)` (never
`backward(create_graph=True)`, which DDP rejects, pytorch/pytorch#63812) and adds the critic output times zero, so every
critic parameter is on the graph of the loss that is back-propagated (StyleGAN2-ADA's trick) and DDP's reducer sees each
parameter used.
"""

from __future__ import annotations

import torch
from torch import nn


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    grad_scale: float = 1.0,
) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] with x_hat = real + alpha (fake - real), alpha ~ U(0, 1) per sample.

    The norm is over all non-batch dimensions of the input gradient (one norm per sample, as in the reference code),
    even when the critic is a PatchGAN with a map of outputs: D(x_hat) is summed over its outputs before taking the
    gradient, which gives the gradient of the sum of patch scores (what the reference implementations do).
    `generator` draws alpha (pass the step's generator for bit-exact resume). `grad_scale` undoes a GradScaler's
    scale when the critic output was scaled (multiply the gradient by 1/scale).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
    alpha = torch.rand(
        (real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device, dtype=torch.float32
    ).to(real.dtype)
    x_hat = (real.detach() + alpha * (fake.detach() - real.detach())).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(outputs=scores.sum(), inputs=x_hat, create_graph=True)
    grad = grad.float() * grad_scale
    norms = grad.flatten(1).norm(2, dim=1)
    penalty = ((norms - 1.0) ** 2).mean()
    # logits * 0: keeps every critic parameter on the graph for DDP's reducer, changes nothing numerically.
    return penalty + scores.float().mean() * 0.0


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic's Wasserstein loss E[D(fake)] - E[D(real)] (the first two terms of Eq. 3/11, to be minimised)."""
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial loss -E[D(G(z))]."""
    return -fake_scores.float().mean()


def hinge_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """SN-PatchGAN hinge loss (Yu et al. 2019): 0.5 E[relu(1 - D(real))] + 0.5 E[relu(1 + D(fake))]."""
    return 0.5 * torch.relu(1.0 - real_scores.float()).mean() + 0.5 * torch.relu(1.0 + fake_scores.float()).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator side of the hinge loss: -E[D(G(z))]."""
    return -fake_scores.float().mean()
