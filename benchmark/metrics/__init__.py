"""The benchmark's metrics, one file each (the protocol is in `benchmark.scoring`).

- `psnr`: PSNR per image on 8-bit RGB / 255, whole image and hole only, capped at 100 dB, averaged over images.
- `ssim`: SSIM with Wang et al.'s settings (Gaussian 11, sigma 1.5, population covariance, data range 1,
  border cropped, mean over RGB), equal to scikit-image's to ~1e-6.
- `l1`: mean absolute error over the hole's pixels and channels.
- `inception`: pytorch-fid's InceptionV3 loaded from a local file only (never downloaded), features.
- `fid`: Fréchet distance (pytorch-fid's algorithm, float64). `kid`: unbiased MMD^2, cubic kernel.
- `perf`: `bench perf eval`.

Metric modules import nothing heavy at package import time; `bench --help` stays fast.
"""
