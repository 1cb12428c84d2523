"""The paper's two-stage inpainting model and its ablations (Dong, Liao & Chen, "Two-stage occlusion giant panda image
inpainting based on partial convolutions, multi-scale contextual attention and a new PatchGAN with two discriminators",
ICIC 2025; Sec. 2.2-2.3, 3.1, Fig. 2-5, Eq. 1-14).

Stage 1, coarse (Sec. 2.2, Fig. 3): a partial-convolution U-Net (Liu et al. 2018) — encoder of six 3x3 stride-2 partial
convolutions, decoder of 3x3 stride-1 partial convolutions after nearest up-sampling of features and mask, long skip
connections concatenating the encoder's features and masks — trained against two PatchGAN critics D_L (224x224x3 ->
7x7x256) and D_S (-> 14x14x256) with WGAN-GP (Eq. 3). Loss Eq. 4: L_valid + 5 L_hole + 0.5 L_adv (Eq. 1-2 area-normalised
L1).

Stage 2, fine (Sec. 2.3, Fig. 4-5): input the coarse output composited with the visible pixels, and the same mask; a
convolutional encoder down-sampling by 4, the multi-scale contextual attention fusion module — two parallel DeepFill v1
contextual-attention branches with 3x3 and 1x1 patches (Eq. 5-7), then F_out = SE(M·F_in, F_att1x1, F_att3x3) (Eq. 8)
and a 1x1 convolution back to the width — and a deconvolution decoder back to full size; one PatchGAN critic with
WGAN-GP (Eq. 11). Loss Eq. 14: L_valid + 5 L_hole + 0.5 L_adv + 0.1 L_per + 110 L_sty (Eq. 9-13; VGG16 pool1-3,
Gram matrices normalised by C·H·W).

Training (Sec. 3.1): coarse pre-training for 20 epochs, then end-to-end training of both stages for 200 epochs; Adam
β = (0.9, 0.999); batch 8; generator lr 1e-4, critics lr 1e-5; horizontal flips and rotations.

Ablations (Table 1), config field `variant`:
- `proposed`: the full model.
- `model1`: without the multi-scale contextual attention fusion module (the fine generator's encoder feeds its
  decoder directly).
- `model2`: one ordinary (whole-image, one score) critic instead of the dual PatchGAN critics in the coarse stage.

Where the paper is silent, the choice and its source are below and in `CHOICES`, which every preset carries, so it
is written to config.json:
- WGAN-GP penalty weights λ1 = λ2 = λ = 10 (Gulrajani et al. 2017).
- Critic steps per generator step: 1 (the paper's critic lr of a tenth of the generator's is a two-time-scale
  setting; `critic_steps` > 1 reuses the batch with fresh interpolation weights). Gulrajani and DeepFill use 5.
- Critics see the raw generator output I_out^C / I_out (Eq. 3, 11 say so), not the composite (DeepFill's choice);
  inputs are 3-channel images (Fig. 3: 224x224x3). Critic internals: see `benchmark/layers/patchgan.py`.
- Joint phase: one backward of L_coarse (Eq. 4) + L_fine (Eq. 14) through both generators ("end-to-end"); the fine
  loss reaches the coarse generator through the composite.
- U-Net widths 64-128-256-512-512-512 (Liu et al.'s, truncated to six levels), BatchNorm after every partial conv but
  the first encoder layer and the last decoder layer, ReLU in the encoder, LeakyReLU(0.2) in the decoder, a linear
  3-channel output layer with bias (Liu et al., naoto0804's PConvUNet). Images enter as 2x-1 and leave as (y+1)/2.
- Fine generator: DeepFill v1's refinement layout at width 32 (5x5 conv, then 3x3 convs with two stride-2
  down-samplings to 1/4 resolution, ELU, no normalisation), the fusion module at 1/4 resolution, then two 3x3 convs
  and two 3x3 stride-2 transposed convolutions (with `output_size`, so any input size comes back exactly) to a linear
  3-channel output. Its input is [composite·2-1, mask].
- Contextual attention: rate-2 down-sampling for matching (DeepFill), cosine similarity normalising both patches
  (Eq. 5), propagation with a 3x3 identity kernel on both axes before the softmax (DeepFill's code), softmax scale 10,
  applied in both branches. Masks at feature resolution are max-pooled, so a feature position touching any hole
  pixel is foreground. SE reduction ratio 16 (Hu et al.). M·F_in in Eq. 8 is taken literally (the foreground of
  F_in); the two attention outputs carry F_in outside the hole.
- Loss normalisation: Eq. 1-2/9-10 by the area broadcast over channels (mean over region pixels and channels);
  L_per/L_sty on the raw fine output (Eq. 12-13), size-averaged L1.
- Augmentation (done by the engine's data loader, `benchmark.training.data`, from the config's `augment`): horizontal
  flip with p = 0.5 and a rotation by a uniform angle in [-10°, 10°]; the paper gives no angles.
- Inference: inputs of another size are resized to `image_size` (hole pixels zeroed first, then area resizing; the
  mask by area > 0, so every low-resolution pixel touching a hole pixel is a hole), the prediction is composited with
  the visible pixels at that resolution and resized back. Until the joint phase has trained the fine stage for at least one step, `inpaint` returns the coarse output
  (the fine network's `joint_steps` buffer counts, and is checkpointed).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.layers.contextual_attention import ContextualAttention
from benchmark.layers.partial_conv import PartialConv2d
from benchmark.layers.patchgan import GlobalCritic, large_patch_critic, pix2pix_patch_critic, small_patch_critic
from benchmark.layers.squeeze_excitation import SqueezeExcitation
from benchmark.losses.gan import gradient_penalty, wgan_critic_loss, wgan_generator_loss
from benchmark.losses.pixel import hole_loss, valid_loss
from benchmark.methods import REGISTRY, LearnableMethod, StepContext, unwrap
from dataset_tools.errors import UserError

VARIANTS = ("proposed", "model1", "model2")

CHOICES = {
    "gp_weight": "lambda_1 = lambda_2 = lambda = 10 (Gulrajani et al. 2017); the paper does not give them",
    "critic_steps": "1 critic step per generator step (paper silent; critic lr = G lr / 10 as two-time-scale)",
    "critic_input": "raw generator output (Eq. 3, 11), 3-channel image, no mask channel",
    "critic_scores": "D_L/D_S: mean over the last conv's 256 channels = one WGAN score per patch; "
                     "no normalisation, LeakyReLU 0.2",
    "fine_critic": "pix2pix 70x70 PatchGAN (C64-C128-C256-C512-1), no normalisation",
    "model2_critic": "D_L trunk + linear layer on the flattened map: one score per image",
    "joint_phase": "end-to-end: one backward of L_coarse (Eq. 4) + L_fine (Eq. 14) through both generators",
    "unet": "widths 64-128-256-512-512-512, BN except first enc/last dec layer, ReLU enc, LeakyReLU 0.2 dec (Liu et al. 2018)",
    "partial_conv_mask": "per-channel mask in the decoder (skip and up-sampled masks concatenated), single-channel update mask",
    "fine_generator": "DeepFill v1 refinement layout: width 32, ELU, no norm, down-sampling x4, 3x3 stride-2 transposed convs",
    "attention": "rate 2, cosine on both patches (Eq. 5), 3x3 propagation before softmax (DeepFill code), "
                 "scale 10, both branches",
    "fusion": "concat(M*F_in, F_att1x1, F_att3x3) -> SE (r=16, Hu et al.) -> 1x1 conv to the width (Eq. 8)",
    "pixel_loss_norm": "L1 sum / (region area x channels) per sample, mean over samples with a non-empty region",
    "vgg_losses": "pool1-3 of torchvision VGG16, ImageNet-normalised, on the raw fine output; Gram / (C*H*W)",
    "augmentation": "hflip p=0.5 + rotation U(-10, 10) degrees (engine's benchmark.training.data, reflect-101 padding)",
    "inference_resize": "resize to image_size (mask by area>0), predict, composite at image_size, resize back (bilinear)",
}

PAPER: dict[str, Any] = {
    "variant": "proposed",
    "image_size": 224,
    "coarse_widths": [64, 128, 256, 512, 512, 512],
    "fine_width": 32,
    "critic_width": 64,
    "attention": {"rate": 2, "softmax_scale": 10.0, "propagation_size": 3, "se_reduction": 16},
    "epochs": {"coarse": 20, "joint": 200},
    "batch_size": 8,
    "lr_g": 1e-4,
    "lr_d": 1e-5,
    "betas": [0.9, 0.999],
    "critic_steps": 1,
    "gp_weight": 10.0,
    "loss_weights": {"hole": 5.0, "adv": 0.5, "per": 0.1, "style": 110.0},
    "augment": {"hflip": True, "max_rotation": 10.0},
    "vgg_weights": None,
    "vgg_random_fallback": False,
    "choices": CHOICES,
}

SMOKE: dict[str, Any] = {
    **copy.deepcopy(PAPER),
    # Widths a quarter to half the paper's, 64 px, batch 4, lr x10, 20 + 60 epochs: on the demo's synthetic set (60
    # training images at 128 px) that is 1200 steps, a few CPU minutes.
    # lr_d = lr_g (the paper: lr_d = lr_g / 10). At the smoke's raised generator lr the generator outran its critics
    # within ~200 steps: E[D(fake)] > E[D(real)], the WGAN term (not bounded below) dominated Eq. 4, the coarse
    # output's *visible* L1 rose from 0.05 to 0.35 and the hole PSNR ended below the `occluded` row (15.9 vs 16.5 dB
    # on the demo data). With equal lrs the critics keep up (16.9 dB). Known limits at this budget: at 64 px the
    # prediction is up-sampled x2 and the hole is the 64 px "any hole pixel" mask (~0.6 dB lost in the hole), and the
    # fine stage, trained only in the joint phase, needs ~500 joint steps before it beats the coarse output it refines.
    "image_size": 64,
    "coarse_widths": [32, 64, 128, 128, 128, 128],
    "fine_width": 16,
    "critic_width": 8,
    "epochs": {"coarse": 20, "joint": 60},
    "batch_size": 4,
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "vgg_random_fallback": True,
}


# ---------------------------------------------------------------------------------------------------------------------
# Coarse generator: partial-convolution U-Net (Sec. 2.2.1, Fig. 3)


class PConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, bn: bool, act: nn.Module | None, bias: bool):
        super().__init__()
        self.conv = PartialConv2d(cin, cout, 3, stride, 1, bias=bias)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.act = act

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.conv(x, mask)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x, mask


class CoarseGenerator(nn.Module):
    """Partial-conv U-Net. forward(occluded [0,1], hole mask 1 = hole) -> I_out^C (linear output, ~[0,1])."""

    def __init__(self, widths: list[int]):
        super().__init__()
        if len(widths) != 6:
            raise ValueError("the paper's encoder has six layers: give six widths")
        self.encoder = nn.ModuleList()
        cin = 3
        for i, w in enumerate(widths):
            # no BN on the first layer (Liu et al.); conv bias only where no BN follows
            self.encoder.append(PConvBlock(cin, w, 2, bn=i > 0, act=nn.ReLU(inplace=True), bias=i == 0))
            cin = w
        self.decoder = nn.ModuleList()
        skips = [3] + list(widths[:-1])  # channels of the skip at each decoder level (level 0 = the input image)
        for level in reversed(range(6)):
            last = level == 0
            cout = 3 if last else widths[level - 1]
            act = None if last else nn.LeakyReLU(0.2, inplace=True)
            self.decoder.append(PConvBlock(cin + skips[level], cout, 1, bn=not last, act=act, bias=last))
            cin = cout

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        x = image * 2 - 1
        m = 1 - hole  # partial convolutions take 1 = valid
        feats = [(x, m)]
        for block in self.encoder:
            x, m = block(x, m)
            feats.append((x, m))
        for block, (skip, skip_m) in zip(self.decoder, reversed(feats[:-1])):
            # nearest up-sampling to the skip's exact size handles any input size (224 -> 112 -> ... -> 7 -> 4)
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            m = F.interpolate(m, size=skip.shape[-2:], mode="nearest")
            xm = torch.cat([m.expand(-1, x.shape[1], -1, -1), skip_m.expand(-1, skip.shape[1], -1, -1)], dim=1)
            x, m = block(torch.cat([x, skip], dim=1), xm)
        return (x + 1) / 2


# ---------------------------------------------------------------------------------------------------------------------
# Fine generator: encoder, multi-scale contextual attention fusion (Sec. 2.3.2, Fig. 5, Eq. 5-8), deconv decoder


class MultiScaleContextualAttention(nn.Module):
    """F_out = Conv1x1(SE(concat(M·F_in, CA_1x1(F_in), CA_3x3(F_in)))) (Eq. 8)."""

    def __init__(self, channels: int, rate: int = 2, softmax_scale: float = 10.0, propagation_size: int = 3,
                 se_reduction: int = 16):
        super().__init__()
        self.ca1 = ContextualAttention(1, rate, softmax_scale, propagation_size)
        self.ca3 = ContextualAttention(3, rate, softmax_scale, propagation_size)
        self.se = SqueezeExcitation(3 * channels, se_reduction)
        self.fuse = nn.Conv2d(3 * channels, channels, 1)

    def forward(self, x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        hole = hole.to(x.dtype)
        z = torch.cat([hole * x, self.ca1(x, hole), self.ca3(x, hole)], dim=1)
        return self.fuse(self.se(z))


def _conv(cin: int, cout: int, k: int, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2), nn.ELU(inplace=True))


class FineGenerator(nn.Module):
    """forward(composite [0,1], hole mask) -> I_out (linear output, ~[0,1])."""

    def __init__(self, width: int, attention: dict[str, Any] | None):
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(_conv(4, w, 5), _conv(w, 2 * w, 3, 2))
        self.enc2 = nn.Sequential(_conv(2 * w, 2 * w, 3), _conv(2 * w, 4 * w, 3, 2))
        self.enc3 = nn.Sequential(_conv(4 * w, 4 * w, 3), _conv(4 * w, 4 * w, 3))
        self.fusion = MultiScaleContextualAttention(4 * w, **attention) if attention is not None else None
        self.dec1 = nn.Sequential(_conv(4 * w, 4 * w, 3), _conv(4 * w, 4 * w, 3))
        self.up1 = nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1)
        self.dec2 = _conv(2 * w, 2 * w, 3)
        self.up2 = nn.ConvTranspose2d(2 * w, w, 3, 2, 1)
        self.dec3 = nn.Sequential(_conv(w, w // 2 if w >= 2 else 1, 3))
        self.out = nn.Conv2d(w // 2 if w >= 2 else 1, 3, 3, 1, 1)
        # joint-phase steps this network has been trained for (checkpointed; `inpaint` falls back to the coarse
        # output while it is 0)
        self.register_buffer("joint_steps", torch.zeros((), dtype=torch.long))

    def forward(self, composite: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        size0 = composite.shape[-2:]
        x = self.enc1(torch.cat([composite * 2 - 1, hole.to(composite.dtype)], dim=1))
        size1 = x.shape[-2:]
        x = self.enc3(self.enc2(x))
        if self.fusion is not None:
            # hole at feature resolution: max-pooled like the stride-2 convs' ceil sizes, any hole pixel -> hole
            h = F.max_pool2d(F.max_pool2d(hole, 2, 2, ceil_mode=True), 2, 2, ceil_mode=True)
            x = self.fusion(x, h)
        x = self.dec1(x)
        x = F.elu(self.up1(x, output_size=size1))
        x = self.dec2(x)
        x = F.elu(self.up2(x, output_size=size0))
        return (self.out(self.dec3(x)) + 1) / 2


# ---------------------------------------------------------------------------------------------------------------------
# The method: networks, optimisers, one training step, inference


def _resize_batch(gt, occ, hole, size):
    if gt.shape[-2:] == (size, size):
        return gt, occ, hole
    gt = F.interpolate(gt, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    occ = F.interpolate(occ, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    hole = (F.interpolate(hole, size=(size, size), mode="area") > 0).to(gt.dtype)
    return gt, gt * (1 - hole) + occ * hole, hole


class ProposedTwoStage(LearnableMethod):
    name = "proposed"
    description = REGISTRY["proposed"][1]
    presets: ClassVar[dict[str, dict[str, Any]]] = {"paper": PAPER, "smoke": SMOKE}
    default_preset = "paper"

    def __init__(self, config: dict[str, Any], device: torch.device | str = "cpu"):
        super().__init__(config, device)
        if self.config.get("variant", "proposed") not in VARIANTS:
            raise UserError(f"unknown variant {self.config.get('variant')!r}; variants: {', '.join(VARIANTS)}")
        self.variant = self.config.get("variant", "proposed")
        self.vgg = None

    # -- structure ------------------------------------------------------------------------------------------------
    @property
    def coarse_critics(self) -> list[str]:
        return ["d_global"] if self.variant == "model2" else ["d_large", "d_small"]

    def build(self) -> None:
        from benchmark.losses.perceptual import VGGFeatures

        c = self.config
        # VGG first: a missing-weights error should come before minutes of network construction
        self.vgg = VGGFeatures(c.get("vgg_weights"), allow_random=bool(c.get("vgg_random_fallback"))).to(self.device)
        att = None if self.variant == "model1" else dict(c["attention"])
        nets: dict[str, nn.Module] = {
            "coarse": CoarseGenerator(c["coarse_widths"]),
            "fine": FineGenerator(c["fine_width"], att),
            "d_fine": pix2pix_patch_critic(3, c["critic_width"]),
        }
        if self.variant == "model2":
            nets["d_global"] = GlobalCritic(c["image_size"], 3, c["critic_width"])
        else:
            nets["d_large"] = large_patch_critic(3, c["critic_width"])
            nets["d_small"] = small_patch_critic(3, c["critic_width"])
        self.networks = {k: v.to(self.device) for k, v in nets.items()}
        betas = tuple(c["betas"])
        adam = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=betas)  # noqa: E731
        self.optimizers = {
            "g_coarse": adam(self.networks["coarse"].parameters(), c["lr_g"]),
            "g_fine": adam(self.networks["fine"].parameters(), c["lr_g"]),
            "d_coarse": adam([p for n in self.coarse_critics for p in self.networks[n].parameters()], c["lr_d"]),
            "d_fine": adam(self.networks["d_fine"].parameters(), c["lr_d"]),
        }

    def phases(self) -> list[tuple[str, int]]:
        e = self.config["epochs"]
        return [("coarse", int(e["coarse"])), ("joint", int(e["joint"]))]

    def config_notes(self) -> dict[str, Any]:
        # the choices where the paper is vague are in the config itself (`choices`), i.e. in config.json and in
        # results.json's method_config; deviations from `paper` are computed by the engine
        notes: dict[str, Any] = {"variant": self.variant}
        if self.vgg is not None:
            notes["vgg"] = self.vgg.note
            notes["weights"] = {"vgg16": self.vgg.sha256}
        return notes

    # -- training ---------------------------------------------------------------------------------------------------
    def _critic_step(self, names: list[str], opt_name: str, real, fake, ctx: StepContext) -> tuple[float, float]:
        opt = self.optimizers[opt_name]
        opt.zero_grad(set_to_none=True)
        n = real.shape[0]
        with ctx.autocast():
            w_loss, gp = 0.0, 0.0
            for name in names:
                critic = self.networks[name]
                scores = critic(torch.cat([real, fake], 0))  # one forward for real and fake
                w_loss = w_loss + wgan_critic_loss(scores[:n], scores[n:])
                gp = gp + gradient_penalty(critic, real, fake, generator=ctx.generator)
            loss = w_loss + self.config["gp_weight"] * gp
        loss.backward()
        opt.step()
        return float(w_loss.detach()), float(gp.detach())

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, float]:
        c = self.config
        lw = c["loss_weights"]
        joint = ctx.phase == "joint"
        if ctx.phase not in ("coarse", "joint"):
            raise ValueError(f"unknown phase {ctx.phase!r}")
        gt, occ, hole = _resize_batch(batch["image"], batch["occluded"], batch["mask"], c["image_size"])
        nets = self.networks
        for name in ("coarse", "fine"):
            nets[name].train()

        with ctx.autocast():
            coarse = nets["coarse"](occ, hole)
            fine = nets["fine"](coarse * hole + occ * (1 - hole), hole) if joint else None
        logs: dict[str, float] = {}

        # Critics (Eq. 3 and Eq. 11): Wasserstein loss + lambda * gradient penalty, on detached generator outputs.
        for _ in range(int(c["critic_steps"])):
            logs["d_coarse_w"], logs["d_coarse_gp"] = self._critic_step(self.coarse_critics, "d_coarse", gt,
                                                                        coarse.detach(), ctx)
            if joint:
                logs["d_fine_w"], logs["d_fine_gp"] = self._critic_step(["d_fine"], "d_fine", gt, fine.detach(), ctx)

        # Generators (Eq. 4 and Eq. 14). Critics are used unwrapped (no DDP reduction) and frozen.
        critics = self.coarse_critics + (["d_fine"] if joint else [])
        for name in critics:
            unwrap(nets[name]).requires_grad_(False)
        try:
            with ctx.autocast():
                lv_c, lh_c = valid_loss(coarse, gt, hole), hole_loss(coarse, gt, hole)
                adv_c = sum(wgan_generator_loss(unwrap(nets[n])(coarse)) for n in self.coarse_critics)
                loss = lv_c + lw["hole"] * lh_c + lw["adv"] * adv_c
                logs.update(coarse_valid=float(lv_c.detach()), coarse_hole=float(lh_c.detach()),
                            coarse_adv=float(adv_c.detach()))
                if joint:
                    from benchmark.losses.perceptual import perceptual_style_losses

                    lv_f, lh_f = valid_loss(fine, gt, hole), hole_loss(fine, gt, hole)
                    adv_f = wgan_generator_loss(unwrap(nets["d_fine"])(fine))
                    per, sty = perceptual_style_losses(self.vgg, fine, gt)
                    loss_f = lv_f + lw["hole"] * lh_f + lw["adv"] * adv_f + lw["per"] * per + lw["style"] * sty
                    loss = loss + loss_f
                    logs.update(fine_valid=float(lv_f.detach()), fine_hole=float(lh_f.detach()),
                                fine_adv=float(adv_f.detach()),
                                fine_per=float(per.detach()), fine_style=float(sty.detach()))
            g_opts = ["g_coarse", "g_fine"] if joint else ["g_coarse"]
            for o in g_opts:
                self.optimizers[o].zero_grad(set_to_none=True)
            loss.backward()
            for o in g_opts:
                self.optimizers[o].step()
        finally:
            for name in critics:
                unwrap(nets[name]).requires_grad_(True)
        if joint:
            unwrap(nets["fine"]).joint_steps += 1
        logs["g_total"] = float(loss.detach())
        return logs

    # -- inference --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        size = int(self.config["image_size"])
        h, w = image.shape[-2:]
        image = image.to(self.device, torch.float32)
        hole = (mask.to(self.device, torch.float32) > 0.5).float()
        # Hole pixels are zeroed before any resizing, so no filter can carry them into the visible context; the
        # image is area-resized, whose footprints are exactly those the mask's "area > 0" test marks as hole.
        image = image * (1 - hole)
        if (h, w) != (size, size):
            img_s = F.interpolate(image, size=(size, size), mode="area")
            hole_s = (F.interpolate(hole, size=(size, size), mode="area") > 0).float()
        else:
            img_s, hole_s = image, hole
        coarse_net, fine_net = unwrap(self.networks["coarse"]), unwrap(self.networks["fine"])
        modes = (coarse_net.training, fine_net.training)
        coarse_net.eval()
        fine_net.eval()
        try:
            occ = img_s * (1 - hole_s)  # the model never reads hole pixels; zero them anyway
            pred = coarse_net(occ, hole_s)
            if int(fine_net.joint_steps) > 0:
                pred = fine_net(pred * hole_s + occ * (1 - hole_s), hole_s)
        finally:
            coarse_net.train(modes[0])
            fine_net.train(modes[1])
        # Composite at the working resolution before any resizing back: the raw output's visible region is only the
        # network's reconstruction of pixels it was given, and an up-sampling filter (here or the engine's bicubic)
        # would carry that reconstruction error into the hole pixels next to the border. (Measured effect on the demo
        # data: small, -0.02 dB; kept because the returned image then equals the input outside the hole.)
        pred = pred.float().clamp(0, 1) * hole_s + img_s * (1 - hole_s)
        if (h, w) != (size, size):
            pred = F.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        return pred

    # -- performance ------------------------------------------------------------------------------------------------
    @classmethod
    def perf_extras(cls, config: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
        """{"contextual_attention": fn}: fn() runs one forward + backward of the fusion module (both attention
        branches, SE, 1x1 fuse) at the fine encoder's resolution (image_size / 4) and the config's batch size, with a
        different rectangular hole per sample."""
        device = torch.device(device)
        size = -(-int(config["image_size"]) // 4)
        ch = 4 * int(config["fine_width"])
        n = int(config["batch_size"])
        g = torch.Generator().manual_seed(0)
        module = MultiScaleContextualAttention(ch, **config["attention"]).to(device)
        x = torch.randn(n, ch, size, size, generator=g).to(device).requires_grad_(True)
        hole = torch.zeros(n, 1, size, size)
        for i in range(n):  # setup only, not timed
            y0, x0 = (i * 3) % (size // 2), (i * 5) % (size // 2)
            hole[i, :, y0 : y0 + size // 3, x0 : x0 + size // 3] = 1
        hole = hole.to(device)

        def run() -> None:
            module.zero_grad(set_to_none=True)
            x.grad = None
            module(x, hole).float().square().mean().backward()

        return {"contextual_attention": run}
