"""Losses shared by the reference model and the baselines (one module per family).

- `gan`: WGAN-GP critic/generator losses and the gradient penalty (Gulrajani et al. 2017), hinge loss.
- `pixel`: L1 on the visible and the occluded region, each normalised by its area (paper Eq. 1-2, 9-10).
- `perceptual`: VGG16 perceptual and style losses (paper Eq. 12-13).
"""
