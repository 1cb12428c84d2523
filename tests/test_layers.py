"""Building blocks of the reference model: analytic checks (hand-computed partial convolution, planted patches for
contextual attention, exact critic shapes at 224, loss normalisations)."""

from __future__ import annotations

import pytest
import torch

from benchmark.layers.contextual_attention import contextual_attention
from benchmark.layers.partial_conv import PartialConv2d
from benchmark.layers.patchgan import GlobalCritic, large_patch_critic, pix2pix_patch_critic, small_patch_critic
from benchmark.layers.squeeze_excitation import SqueezeExcitation
from benchmark.losses.perceptual import VGGFeatures, gram_matrix
from benchmark.losses.pixel import hole_loss, valid_loss
from dataset_tools.errors import UserError


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


# ------------------------------------------------------------------------------------------------ partial convolution

def _ones_pconv(cin: int, padding: int, bias: float) -> PartialConv2d:
    conv = PartialConv2d(cin, 1, 3, 1, padding, bias=True)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(bias)
    return conv


def test_partial_conv_hand_computed():
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    valid = torch.tensor([[1.0, 1, 0], [1, 0, 0], [1, 1, 1]]).view(1, 1, 3, 3)
    out, m = _ones_pconv(1, 0, 0.5)(x, valid)
    # valid values 1+2+4+7+8+9 = 31, 6 valid of a 9-pixel window: 31 * 9/6 + 0.5 = 47
    assert out.shape == (1, 1, 1, 1) and out.item() == pytest.approx(47.0)
    assert m.item() == 1.0


def test_partial_conv_empty_window_is_exactly_zero_and_mask_updates():
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    valid = torch.zeros(1, 1, 3, 3)
    valid[0, 0, 2, 2] = 1  # only the bottom-right pixel is valid
    out, m = _ones_pconv(1, 1, 0.5)(x, valid)
    expected_mask = torch.tensor([[0.0, 0, 0], [0, 1, 1], [0, 1, 1]])
    assert torch.equal(m[0, 0], expected_mask)
    assert torch.all(out[0, 0][expected_mask == 0] == 0)  # bias not added where no input is valid
    # centre window: the one valid pixel (9) re-scaled by 9/1, plus the bias
    assert out[0, 0, 1, 1].item() == pytest.approx(9 * 9 + 0.5)
    # top-right window of pixel (1,2) with zero padding: covers (2,2) only -> 9 * 9/1 + 0.5
    assert out[0, 0, 1, 2].item() == pytest.approx(81.5)


def test_partial_conv_multi_channel_window():
    x = torch.ones(1, 2, 3, 3)
    valid = torch.ones(1, 2, 3, 3)
    valid[0, 1] = 0  # second channel entirely invalid: 9 valid of an 18-element window
    out, m = _ones_pconv(2, 0, 0.0)(x, valid)
    assert out.item() == pytest.approx(9 * 18 / 9)
    assert m.shape == (1, 1, 1, 1) and m.item() == 1


def test_partial_conv_hole_values_never_leak():
    torch.manual_seed(0)
    conv = PartialConv2d(3, 8, 3, 2, 1)
    x = torch.rand(2, 3, 16, 16)
    valid = (torch.rand(2, 1, 16, 16) > 0.4).float()
    out1, m1 = conv(x, valid)
    x2 = torch.where(valid.bool(), x, torch.randn_like(x) * 1000)
    out2, m2 = conv(x2, valid)
    assert torch.equal(out1, out2) and torch.equal(m1, m2)
    assert "ones_kernel" not in conv.state_dict()  # non-persistent buffer, no cached state


# ------------------------------------------------------------------------------------------------ contextual attention

def _planted(c=16, size=12, seed=0):
    """Random background features; a distinctive 3x3 pattern at A; the hole at B, whose 8 neighbours repeat A's
    neighbours and whose centre is garbage. The attention must paste A's centre into B."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(1, c, size, size, generator=g)
    a, b = (3, 3), (8, 8)
    pattern = torch.randn(c, 3, 3, generator=g) * 3
    f[0, :, a[0] - 1 : a[0] + 2, a[1] - 1 : a[1] + 2] = pattern
    f[0, :, b[0] - 1 : b[0] + 2, b[1] - 1 : b[1] + 2] = pattern
    f[0, :, b[0], b[1]] = 0.0  # garbage in the hole
    mask = torch.zeros(1, 1, size, size)
    mask[0, 0, b[0], b[1]] = 1
    return f, mask, a, b


@pytest.mark.parametrize("patch_size", [3, 1])
def test_contextual_attention_copies_planted_patch(patch_size):
    f, mask, a, b = _planted()
    if patch_size == 1:
        f[0, :, b[0], b[1]] = f[0, :, a[0], a[1]] * 0.5 + 0.05  # 1x1 matching needs the centre's direction
    out = contextual_attention(f, f, mask, patch_size=patch_size, rate=1)
    assert torch.allclose(out[0, :, b[0], b[1]], f[0, :, a[0], a[1]], atol=0.05 * f[0, :, a[0], a[1]].abs().max())
    keep = mask == 0
    assert torch.equal(out.expand_as(f)[keep.expand_as(f)], f[keep.expand_as(f)])  # outside the hole: input


def test_contextual_attention_per_sample_masks_and_batch_independence():
    torch.manual_seed(1)
    f = torch.randn(2, 8, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 2:7, 3:9] = 1
    mask[1, :, 9:15, 8:14] = 1
    for k, rate in ((3, 2), (1, 2), (3, 1)):
        both = contextual_attention(f, f, mask, patch_size=k, rate=rate)
        alone = torch.cat([contextual_attention(f[i : i + 1], f[i : i + 1], mask[i : i + 1], patch_size=k, rate=rate)
                           for i in range(2)])
        assert torch.allclose(both, alone, atol=1e-5)
        # each sample's hole is filled from its own background (a first-sample-mask bug would change sample 1)
        assert not torch.allclose(both[1, :, 9:15, 8:14], f[1, :, 9:15, 8:14])


def test_contextual_attention_rate2_shapes_and_no_nan_without_background():
    f = torch.randn(2, 4, 15, 13)  # odd sizes
    mask = torch.zeros(2, 1, 15, 13)
    mask[0] = 1  # sample 0: no valid background patch at all
    mask[1, :, 4:9, 4:9] = 1
    out, attn = contextual_attention(f, f, mask, patch_size=3, rate=2, return_attention=True)
    assert out.shape == f.shape and torch.isfinite(out).all()
    assert torch.all(attn[0] == 0)  # no candidate -> zero weights, not NaN
    sums = attn[1].sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


# ------------------------------------------------------------------------------------------------ SE, critics

def test_squeeze_excitation_shapes_and_gates():
    se = SqueezeExcitation(48, reduction=16)
    assert se.fc1.out_features == 4  # max(4, 48 // 16 = 3)
    x = torch.rand(3, 48, 5, 7) + 0.1
    y = se(x)
    assert y.shape == x.shape
    gate = y / x
    assert torch.all((gate > 0) & (gate < 1))
    assert torch.allclose(gate, gate[:, :, :1, :1].expand_as(gate))  # one gate per channel


def test_patchgan_critic_shapes_at_224():
    x = torch.zeros(1, 3, 224, 224)
    d_l, d_s = large_patch_critic(), small_patch_critic()
    assert d_l.num_convs == 7 and d_s.num_convs == 5
    assert d_l.features(x).shape == (1, 256, 7, 7)
    assert d_s.features(x).shape == (1, 256, 14, 14)
    assert d_l(x).shape == (1, 1, 7, 7) and d_s(x).shape == (1, 1, 14, 14)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in list(d_l.modules()) + list(d_s.modules()))
    assert pix2pix_patch_critic()(x).shape == (1, 1, 26, 26)
    assert GlobalCritic(224)(x).shape == (1, 1)


# ------------------------------------------------------------------------------------------------ losses

def test_pixel_losses_normalised_by_area_and_empty_regions():
    gt = torch.zeros(2, 3, 4, 4)
    pred = torch.zeros(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[0, :, :2, :] = 1  # 8 hole pixels
    pred[0, :, :2, :] = 0.5  # error 0.5 everywhere in the hole
    pred[0, :, 2:, :] = 0.1
    # sample 1 has an empty hole: it must not contribute (and no NaN)
    pred[1] = 0.3
    assert hole_loss(pred, gt, mask).item() == pytest.approx(0.5)
    assert valid_loss(pred, gt, mask).item() == pytest.approx((0.1 + 0.3) / 2)
    full = torch.ones(1, 1, 4, 4)
    v = valid_loss(torch.ones(1, 3, 4, 4), gt[:1], full)  # no visible pixel at all
    assert v.item() == 0.0 and torch.isfinite(v)


def test_gram_matrix_normalisation():
    f = torch.ones(2, 4, 3, 5)
    g = gram_matrix(f)
    assert g.shape == (2, 4, 4)
    assert torch.allclose(g, torch.full_like(g, 15 / (4 * 3 * 5)))  # H*W / (C*H*W) = 1/C
    f2 = torch.randn(1, 3, 2, 2)
    flat = f2.view(1, 3, 4)
    assert torch.allclose(gram_matrix(f2), flat @ flat.transpose(1, 2) / 12, atol=1e-6)


def test_vgg_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(UserError, match="vgg16-397923af.pth"):
        VGGFeatures(None, allow_random=False)
    with pytest.raises(UserError, match="does not exist"):
        VGGFeatures(tmp_path / "nope.pth", allow_random=True)
    vgg = VGGFeatures(None, allow_random=True)
    assert "random-init" in vgg.note and vgg.sha256 is None
    assert [t.shape[1] for t in vgg(torch.rand(1, 3, 32, 32))] == [64, 128, 256]
    assert not any(p.requires_grad for p in vgg.parameters())


def test_vgg_loads_torchvision_state_dict(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(3)
    feats = make_layers(cfgs["D"])
    state = {f"features.{k}": v for k, v in feats.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the real file also holds the (unused) classifier
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    vgg = VGGFeatures(path)
    assert vgg.sha256 is not None and str(path) in vgg.note
    assert torch.equal(vgg.slices[0][0].weight, feats[0].weight) and torch.equal(vgg.slices[2][-3].weight, feats[14].weight)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(UserError, match="cannot load VGG16 weights"):
        VGGFeatures(tmp_path / "bad.pth")
