"""Contextual attention (Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018 = DeepFill v1),
batched with per-sample masks, as used twice (3x3 and 1x1 patches) by the paper's fusion module (Sec. 2.3.2).

For every foreground position (x, y) and every background patch (x', y'), all computed at once per sample:

1. Matching (Eq. 5): cosine similarity s = <f_xy, b_x'y'> / (||f_xy|| ||b_x'y'||) between the k×k patch around the
   foreground position and each k×k background patch. Eq. 5 divides by both norms, so both are L2-normalised (DeepFill's
   code normalises only the background patches; at softmax scale 10 the difference changes the sharpness). Norms are
   floored at 1e-4 as in DeepFill.
2. Valid background patches: a patch is a candidate only if its k×k window holds no hole position; holes are per
   sample (DeepFill's TF code and daa233's port use the first sample's mask for the whole batch; mmagic and PEN-Net
   mask per sample, as here).
3. Propagation (Eq. 7): the scores are summed over (2·1+1) shifts along x and then along y (s'_{f,b} =
   Σ_{dy,dx ∈ {-1,0,1}} s_{f+(dy,dx), b+(dy,dx)}), i.e. DeepFill's `fuse` with a 3×3 identity kernel applied on both
   spatial axes. Like DeepFill's code (and unlike the order of the paper's equations) it is applied to the cosine scores
   before the softmax. DeepFill applies the identity kernel to flattened indices, which wraps around row ends; the
   shifts here are 2-D with zero padding, so they never wrap.
4. Attention (Eq. 6): softmax over the valid background patches of r·s' with r = 10. Invalid patches get weight
   exactly 0 (masked in float32 and re-masked after the softmax); a sample with no valid patch at all gets all-zero
   weights (no NaN; mmagic's -inf masking gives NaN there).
5. Reconstruction: transposed convolution of the attention map with the raw (un-normalised) background patches —
   implemented as a batched matrix product followed by `fold` — with each output pixel divided by the exact number of
   overlapping patches (mmagic; DeepFill divides by the constant 4).
6. Only the hole is replaced: output = mask · attention result + (1 - mask) · input.

Down-sampling (DeepFill's `rate`, default 2 there): matching runs on features nearest-down-sampled by `rate` (hole
positions are max-pooled, so a low-resolution position is a hole if any pixel of its block is), and the pasted raw
patches come from the full-resolution background with size k·rate and stride rate, so they cover exactly the
low-resolution k×k window they were matched on (DeepFill pastes 2·rate = 4-pixel raw patches for k = 3, an
approximation of that window). With k = 1 and rate = 2 this pastes 2×2 blocks without overlap.

Cost: the score tensor is (B, L, L) with L = (H/rate)·(W/rate) positions per sample; matching and pasting are two
batched matmuls. There is no Python loop over samples, pixels or patches. The matching (scores, softmax) runs in
float32 even under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _propagate(scores: torch.Tensor, h: int, w: int, k: int) -> torch.Tensor:
    """Eq. 7: sum the scores over the diagonal shifts (f + d, b + d), d in [-k//2, k//2]^2, zero-padded."""
    if k <= 1:
        return scores
    r = k // 2
    b = scores.shape[0]
    s = scores.view(b, h, w, h, w)
    s = F.pad(s, (r, r, r, r, r, r, r, r))  # pads the last four dims (bx, by, fx, fy)
    out = torch.zeros(b, h, w, h, w, dtype=scores.dtype, device=scores.device)
    for dy in range(-r, r + 1):  # k*k shifted views of the whole tensor (9 for k=3), not a loop over positions
        for dx in range(-r, r + 1):
            out += s[:, r + dy : r + dy + h, r + dx : r + dx + w, r + dy : r + dy + h, r + dx : r + dx + w]
    return out.view(b, h * w, h * w)


def contextual_attention(
    foreground: torch.Tensor,
    background: torch.Tensor,
    mask: torch.Tensor,
    patch_size: int = 3,
    rate: int = 2,
    softmax_scale: float = 10.0,
    propagation_size: int = 3,
    return_attention: bool = False,
):
    """DeepFill v1 contextual attention with per-sample masks.

    foreground, background: (B, C, H, W) features (the same tensor in the paper's module). mask: (B, 1, H, W), 1 = hole.
    Returns (B, C, H, W): the attention reconstruction inside the hole, `foreground` outside it; with
    `return_attention`, also the (B, L_f, L_b) attention weights at the matching resolution.
    """
    if patch_size % 2 != 1:
        raise ValueError("patch_size must be odd")
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {tuple(foreground.shape)} and background {tuple(background.shape)} differ")
    bsz, c, hgt, wid = foreground.shape
    if mask.shape != (bsz, 1, hgt, wid):
        raise ValueError(f"mask must be {(bsz, 1, hgt, wid)}, got {tuple(mask.shape)}")
    k, pad = patch_size, patch_size // 2
    dev_type = foreground.device.type
    mask = mask.to(foreground.dtype)

    with torch.autocast(device_type=dev_type, enabled=False):
        f = foreground.float()
        b = background.float()
        m = (mask.float() > 0.5).float()
        if rate > 1:
            h, w = -(-hgt // rate), -(-wid // rate)
            # Full-resolution background padded to a multiple of rate, so raw patches tile the low-res grid exactly.
            b_full = F.pad(b, (0, w * rate - wid, 0, h * rate - hgt))
            f_low = f[:, :, ::rate, ::rate]
            b_low = b[:, :, ::rate, ::rate]
            m_low = F.max_pool2d(m, rate, rate, ceil_mode=True)
        else:
            h, w = hgt, wid
            b_full, f_low, b_low, m_low = b, f, b, m

        # 1. Patches as columns: (B, C*k*k, L); cosine similarity by one batched matmul (Eq. 5).
        fp = F.unfold(f_low, k, padding=pad)
        bp = F.unfold(b_low, k, padding=pad)
        fp = fp / fp.norm(dim=1, keepdim=True).clamp_min(1e-4)
        bp = bp / bp.norm(dim=1, keepdim=True).clamp_min(1e-4)
        scores = torch.bmm(fp.transpose(1, 2), bp)  # (B, L_f, L_b)

        # 2. Valid background patches: no hole position inside the k x k window (zero padding counts as valid).
        valid = (F.max_pool2d(m_low, k, 1, pad) == 0).flatten(1)[:, None, :]  # (B, 1, L_b)

        # 3.-4. Propagation (Eq. 7), masked softmax with scale r (Eq. 6).
        scores = _propagate(scores, h, w, propagation_size)
        logits = (scores * softmax_scale).masked_fill(~valid, -1e4)
        attn = torch.softmax(logits, dim=2) * valid  # exactly 0 on invalid patches; all-zero rows if none valid

        # 5. Paste raw full-resolution patches (size k*rate, stride rate), overlaps averaged by their exact count.
        kr, pr = k * rate, pad * rate
        raw = F.unfold(b_full, kr, padding=pr, stride=rate)  # (B, C*kr*kr, L_b)
        cols = torch.bmm(raw, attn.transpose(1, 2))  # (B, C*kr*kr, L_f)
        out_size = (h * rate, w * rate)
        recon = F.fold(cols, out_size, kr, padding=pr, stride=rate)
        ones = torch.ones(1, kr * kr, h * w, device=f.device, dtype=f.dtype)
        count = F.fold(ones, out_size, kr, padding=pr, stride=rate)
        recon = (recon / count.clamp_min(1.0))[:, :, :hgt, :wid]

    # 6. Replace the hole only.
    out = recon.to(foreground.dtype) * mask + foreground * (1 - mask)
    if return_attention:
        return out, attn
    return out


class ContextualAttention(nn.Module):
    """Module form of `contextual_attention` (no parameters); `forward(x, mask)` uses x as foreground and background."""

    def __init__(self, patch_size: int = 3, rate: int = 2, softmax_scale: float = 10.0, propagation_size: int = 3):
        super().__init__()
        self.patch_size = patch_size
        self.rate = rate
        self.softmax_scale = softmax_scale
        self.propagation_size = propagation_size

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return contextual_attention(x, x, mask, self.patch_size, self.rate, self.softmax_scale, self.propagation_size)

    def extra_repr(self) -> str:
        return (f"patch_size={self.patch_size}, rate={self.rate}, softmax_scale={self.softmax_scale}, "
                f"propagation_size={self.propagation_size}")
