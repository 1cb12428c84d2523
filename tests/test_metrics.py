"""Metric correctness: analytic cases and scikit-image / pytorch-fid as references (no downloads)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from benchmark.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from benchmark.metrics.kid import kid, mmd2_unbiased, polynomial_kernel
from benchmark.metrics.l1 import l1_hole
from benchmark.metrics.psnr import PSNR_CAP_DB, count_capped, mse, psnr
from benchmark.metrics.ssim import gaussian_kernel1d, ssim


def rand_u8(rng, shape):
    return rng.integers(0, 256, shape, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------- PSNR


def test_psnr_of_known_mse():
    a = np.zeros((16, 20, 3), np.uint8)
    b = a.copy()
    b[:4, :5, 0] = 51  # 20 values off by 51/255 = 0.2 out of 960
    expected_mse = 20 * 0.2**2 / (16 * 20 * 3)
    assert mse(b, a) == pytest.approx(expected_mse, rel=1e-12)
    assert psnr(b, a) == pytest.approx(10 * math.log10(1 / expected_mse), rel=1e-12)


def test_psnr_hole_only_uses_hole_pixels_and_all_channels():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:7] = True  # 10 hole pixels
    b[2:4, 2:7, 1] = 100 + 51  # one channel off by 0.2 inside the hole
    b[8, 8, :] = 0  # outside the hole: must not count
    expected = 10 * 0.2**2 / (10 * 3)
    assert mse(b, a, mask) == pytest.approx(expected, rel=1e-12)
    assert psnr(b, a, mask) == pytest.approx(10 * math.log10(1 / expected), rel=1e-12)
    # an empty hole has no value
    assert np.isnan(psnr(b, a, np.zeros_like(mask)))


def test_psnr_identical_is_capped_and_per_image_mean():
    rng = np.random.default_rng(0)
    a = rand_u8(rng, (3, 12, 12, 3))
    b = a.copy()
    b[1, 0, 0, 0] ^= 0x10
    b[2] = 255 - a[2]
    vals = psnr(b, a)
    assert vals[0] == PSNR_CAP_DB and count_capped(vals) == 1
    assert vals[1] == pytest.approx(10 * math.log10(1 / ((16 / 255) ** 2 / 432)), rel=1e-9)
    # per image then averaged: the mean of the logs, not the log of the pooled MSE
    pooled = 10 * math.log10(1 / np.mean(mse(b, a)))
    assert np.mean(vals) != pytest.approx(pooled, rel=1e-3)


def test_l1_hole_analytic():
    a = np.zeros((6, 6, 3), np.uint8)
    b = a.copy()
    mask = np.zeros((6, 6), bool)
    mask[:2, :] = True  # 12 pixels, 36 values
    b[:2, :, 0] = 255  # 12 values off by 1.0
    b[5, 5] = 255  # outside the hole
    assert l1_hole(b, a, mask) == pytest.approx(12 / 36, rel=1e-12)
    assert np.isnan(l1_hole(b, a, np.zeros_like(mask)))


# ---------------------------------------------------------------------------------------------- SSIM


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return structural_similarity(a / 255.0, b / 255.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=1.0, channel_axis=-1)


def test_gaussian_window_is_scipys():
    from scipy.ndimage import _filters

    k = gaussian_kernel1d().numpy()
    assert len(k) == 11
    assert np.allclose(k, _filters._gaussian_kernel1d(1.5, 0, 5)[::-1], atol=1e-15)


@pytest.mark.parametrize("shape", [(32, 32), (37, 50), (11, 64)])
def test_ssim_matches_skimage_random(shape):
    rng = np.random.default_rng(sum(shape))
    a = rand_u8(rng, (4, *shape, 3))
    noise = rng.integers(-60, 61, a.shape)
    b = np.clip(a.astype(int) + noise * (np.arange(4)[:, None, None, None] / 3), 0, 255).astype(np.uint8)
    ours = ssim(b, a, batch_size=3)
    ref = np.array([skimage_ssim(b[i], a[i]) for i in range(4)])
    assert np.max(np.abs(ours - ref)) < 1e-6
    assert ours[0] == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_skimage_structured():
    yy, xx = np.mgrid[:48, :64]
    grad = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).clip(0, 255).astype(np.uint8)
    checker = (((xx // 4 + yy // 4) % 2) * 255).astype(np.uint8)
    checker = np.stack([checker, 255 - checker, checker // 2], -1)
    flat = np.full_like(grad, 128)
    blurred = ((grad.astype(int) + np.roll(grad, 1, axis=1)) // 2).astype(np.uint8)
    for a, b in [(grad, checker), (grad, flat), (checker, flat), (grad, blurred), (flat, flat)]:
        assert abs(ssim(a, b) - skimage_ssim(a, b)) < 1e-6


def test_ssim_rejects_tiny_images():
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((8, 30, 3), np.uint8), np.zeros((8, 30, 3), np.uint8))


# ----------------------------------------------------------------------------------- Fréchet distance


def test_frechet_equal_covariances_is_squared_mean_distance():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 6))
    sigma = a @ a.T + np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(np.sum((mu1 - mu2) ** 2), abs=1e-8)


def test_frechet_known_diagonal_gaussians():
    # diagonal covariances: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(s1) - sqrt(s2))^2
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.0, 0.0])
    expected = 9 + 0 + 4 + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_matches_pytorch_fid_and_identical_sets_give_zero():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(2)
    f1 = rng.normal(size=(200, 16))
    f2 = rng.normal(size=(150, 16)) * 1.3 + 0.2
    m1, s1 = feature_statistics(f1)
    m2, s2 = feature_statistics(f2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pytorch-fid passes sqrtm's deprecated `disp`
        ref = calculate_frechet_distance(m1, s1, m2, s2)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-10)
    assert fid_from_features(f1, f1) == pytest.approx(0.0, abs=1e-9)


def test_feature_statistics_exact_with_mean_pooling_stub():
    # as pytorch-fid's tests: a stub "network" that mean-pools each image's channels
    rng = np.random.default_rng(3)
    imgs = rand_u8(rng, (10, 8, 8, 3))
    feats = imgs.reshape(10, -1, 3).mean(axis=1).astype(np.float64)
    mu, sigma = feature_statistics(feats)
    centred = feats - feats.mean(0)
    assert np.allclose(mu, feats.mean(0), atol=1e-12)
    assert np.allclose(sigma, centred.T @ centred / 9, atol=1e-10)


# ----------------------------------------------------------------------------------------------- KID


def direct_mmd2(x, y):
    m, d = len(x), x.shape[1]
    k = lambda u, v: (float(np.dot(u, v)) / d + 1.0) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / m**2


def test_kid_matches_direct_computation():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.5
    assert mmd2_unbiased(x, y) == pytest.approx(direct_mmd2(x, y), rel=1e-10)
    assert polynomial_kernel(x[:2], y[:3]).shape == (2, 3)
    # subset size = n: every subset is a permutation of the whole set, the statistic is permutation-invariant
    mean, std, m = kid(x, y, subset_size=None, subsets=5, seed=0)
    assert m == 12 and mean == pytest.approx(direct_mmd2(x, y), rel=1e-10) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_subsets_seeded_and_capped_at_n():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 1.0
    r1 = kid(x, y, subset_size=10, subsets=20, seed=7)
    r2 = kid(x, y, subset_size=10, subsets=20, seed=7)
    r3 = kid(x, y, subset_size=10, subsets=20, seed=8)
    assert r1 == r2 and r1 != r3 and r1[2] == 10 and r1[1] > 0
    # manual replay of the subsets gives the same mean
    g = np.random.default_rng(7)
    vals = []
    for _ in range(20):
        vals.append(direct_mmd2(x[g.choice(30, 10, replace=False)], y[g.choice(30, 10, replace=False)]))
    assert r1[0] == pytest.approx(np.mean(vals), rel=1e-9)
    assert kid(x, y, subset_size=1000, subsets=2)[2] == 30  # never larger than n
    # same distribution -> near 0; shifted by 1 in each of 4 dims -> clearly positive
    assert abs(kid(x, rng.normal(size=(30, 4)), subsets=10)[0]) < r1[0]


# ------------------------------------------------------------------------------- Inception loading


def test_no_weights_means_none_with_reason(tmp_path, monkeypatch):
    from benchmark.metrics.inception import load_fid_inception

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    model, sha, reason = load_fid_inception(None)
    assert model is None and sha is None
    assert "pt_inception-2015-12-05-6726825d.pth" in reason and "random weights" in reason


def test_explicit_missing_weights_is_user_error(tmp_path):
    from benchmark.metrics.inception import load_fid_inception
    from dataset_tools.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        load_fid_inception(tmp_path / "nope.pth")


@pytest.fixture(scope="module")
def fake_inception_file(tmp_path_factory):
    """A state dict in the FID file's format (pytorch-fid's patched Inception3, 1008 classes), random
    values: to test loading from the cache location without the real file (never called FID elsewhere)."""
    import pytorch_fid.inception as pfi
    import torchvision
    from unittest import mock

    captured = {}

    def capture(self, sd, *a, **k):
        captured.update(self.state_dict())

    torch.manual_seed(123)
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(torchvision.models.inception.Inception3, "load_state_dict", capture):
        pfi.fid_inception_v3()
    sd = captured  # PyTorch's default random init: distinct from any freshly built network
    home = tmp_path_factory.mktemp("torch-home")
    path = home / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    path.parent.mkdir(parents=True)
    torch.save(sd, path)
    return home, path


def test_weights_load_from_torch_hub_cache_without_download(fake_inception_file, monkeypatch):
    import pytorch_fid.inception as pfi

    from benchmark.metrics.inception import extract_features, load_fid_inception, random_init_inception
    from dataset_tools.fileio import sha256_file

    home, path = fake_inception_file
    monkeypatch.setenv("TORCH_HOME", str(home))
    original = pfi.load_state_dict_from_url
    model, sha, reason = load_fid_inception(None)
    assert pfi.load_state_dict_from_url is original  # the patch is undone
    assert reason == "" and sha == sha256_file(path)
    sd = torch.load(path, weights_only=True)
    # the file's values are in the network (block 0's first conv), and the network is in eval mode
    assert torch.equal(model.blocks[0][0].conv.weight, sd["Conv2d_1a_3x3.conv.weight"])
    assert not model.training
    fresh = random_init_inception(seed=1)
    assert not torch.equal(fresh.blocks[0][0].conv.weight, sd["Conv2d_1a_3x3.conv.weight"])
    imgs = np.random.default_rng(0).integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
    f = extract_features(model, imgs)
    assert f.shape == (1, 2048) and f.dtype == np.float64 and np.isfinite(f).all()


def test_kid_full_kernel_and_per_subset_paths_agree(monkeypatch):
    import benchmark.metrics.kid as kid_mod

    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(25, 8)), rng.normal(size=(20, 8)) * 1.5
    fast = kid_mod.kid(x, y, subset_size=7, subsets=15, seed=3)
    monkeypatch.setattr(kid_mod, "_FULL_KERNEL_MAX", 0)
    slow = kid_mod.kid(x, y, subset_size=7, subsets=15, seed=3)
    assert fast[2] == slow[2] == 7
    assert fast[0] == pytest.approx(slow[0], rel=1e-10) and fast[1] == pytest.approx(slow[1], rel=1e-8)


def test_broken_weights(tmp_path, monkeypatch):
    from benchmark.metrics.inception import load_fid_inception
    from dataset_tools.errors import UserError

    bad = tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    bad.parent.mkdir(parents=True)
    torch.save({"not": torch.zeros(1)}, bad)
    with pytest.raises(UserError, match="could not load"):  # named by the user: their error
        load_fid_inception(bad)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    model, sha, reason = load_fid_inception(None)  # found in the cache: null with the reason
    assert model is None and sha is None and "could not load" in reason
