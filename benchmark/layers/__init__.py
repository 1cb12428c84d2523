"""Small building blocks shared by the reference model and the baselines (one module each, timm-style).

- `partial_conv`: PartialConv2d (Liu et al. 2018).
- `contextual_attention`: DeepFill v1 contextual attention, batched with per-sample masks (Yu et al. 2018).
- `squeeze_excitation`: SE block (Hu et al. 2018).
- `patchgan`: WGAN-GP critics — the paper's D_L / D_S PatchGANs, pix2pix's PatchGAN, a whole-image critic.
"""
