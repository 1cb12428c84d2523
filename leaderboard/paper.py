"""The paper's published numbers (Dong, Liao & Chen, ICIC 2025), Tables 1 and 2, exactly as printed.

These are *reported* numbers, measured by the authors on their own iPanda-50-occlusion (1000 images,
2:1 train/test split; neither the data nor the code is public). They are not comparable with our
measurements (different images, occluders, resolution and metric implementations) and are therefore
kept in their own tables, never mixed into measured rows or used when choosing the best value.

Values are kept as the printed strings (so trailing zeros such as "0.910" survive) with the column
headers as printed. `key` maps each column to this project's method registry name.

Quirks of the printed paper, recorded rather than corrected:
- Table 1 calls the input column "Occlude images" and reports PSNR 22.06 / SSIM 0.910 / FID 21.94 for
  it, while Table 2's "Occluded images" column reports 20.35 / 0.905 / 21.21 for the same kind of input.
- "CM-GAN [20] 2021": the text describes this comparison method as "a two-stage inpainting model" by
  Nazeri et al. and cites [21], which is EdgeConnect (Nazeri et al.); CM-GAN proper is Zheng et al.
  (ECCV 2022). In the printed reference list [20] is VideoWorld (Ren et al. 2025).
- "PConv [19] 2023": in the printed reference list [19] is FasterNet ("Run, Don't Walk", Chen et al.,
  CVPR 2023), whose "PConv" is a different partial convolution; partial-convolution inpainting is Liu
  et al. (ECCV 2018), the paper's [25].
- "Videoworld [24] 2025": in the printed reference list [24] is WGAN-GP (Gulrajani et al.); VideoWorld
  is [20].
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL = ("reported by Dong et al. (ICIC 2025) on their iPanda-50-occlusion (unpublished, 1000 images); "
         "not comparable with the measured numbers above")
SOURCE = ("Dong, Liao, Chen, \"Two-stage occlusion giant panda image inpainting based on partial convolutions, "
          "multi-scale contextual attention and a new PatchGAN with two discriminators\", ICIC 2025")


@dataclass(frozen=True)
class PaperTable:
    title: str  # as printed
    columns: tuple[str, ...]  # headers as printed
    keys: tuple[str, ...]  # our registry name for each column
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (metric as printed, values as printed)
    metric_keys: tuple[str, ...]  # our metric key for each row
    notes: tuple[str, ...] = ()

    def value(self, metric_key: str, key: str) -> str | None:
        """The printed value for one of our metric keys and method keys (None if not reported)."""
        if metric_key not in self.metric_keys or key not in self.keys:
            return None
        return self.rows[self.metric_keys.index(metric_key)][1][self.keys.index(key)]


TABLE1 = PaperTable(
    title="Table 1. Quantitative comparison of ablation experiments",
    columns=("Occlude images", "Model1", "Model2", "Proposed method"),
    keys=("occluded", "model1", "model2", "proposed"),
    rows=(
        ("PSNR", ("22.06", "33.25", "30.26", "34.49")),
        ("SSIM", ("0.910", "0.964", "0.955", "0.967")),
        ("FID", ("21.94", "5.10", "10.27", "4.22")),
    ),
    metric_keys=("psnr", "ssim", "fid"),
    notes=(
        "Model1: without the multi-scale contextual-attention fusion module; "
        "Model2: without the dual PatchGAN discriminators (an ordinary discriminator).",
    ),
)

TABLE2 = PaperTable(
    title="Table 2. Comparison results of different methods in terms of PSNR, SSIM, and FID.",
    columns=("Occluded images", "PConv [19] 2023", "PEN [11] 2019", "GateConv [10] 2019", "CM-GAN [20] 2021",
             "Videoworld [24] 2025", "Stable diffusion [16] 2022", "Proposed method"),
    keys=("occluded", "pconv", "pennet", "gatedconv", "cmgan", "videoworld", "stable-diffusion", "proposed"),
    rows=(
        ("PSNR", ("20.35", "30.99", "31.94", "29.97", "35.59", "34.71", "26.97", "35.69")),
        ("SSIM", ("0.905", "0.951", "0.961", "0.963", "0.972", "0.921", "0.891", "0.971")),
        ("FID", ("21.21", "12.53", "8.52", "7.47", "5.33", "5.35", "5.80", "5.22")),
    ),
    metric_keys=("psnr", "ssim", "fid"),
    notes=(
        "\"CM-GAN [20] 2021\": the paper's text describes it as a two-stage model by Nazeri et al. and cites "
        "EdgeConnect (Nazeri et al.); CM-GAN proper is Zheng et al. (ECCV 2022). Which one was run is ambiguous.",
        "The printed reference numbers do not all match the methods: [19] is FasterNet (Chen et al. 2023), "
        "[20] is VideoWorld, [24] is WGAN-GP; partial-convolution inpainting is Liu et al. 2018 ([25]).",
        "Table 1 and Table 2 report different numbers for the occluded input (PSNR 22.06 vs 20.35).",
    ),
)

TABLES: tuple[PaperTable, ...] = (TABLE1, TABLE2)
