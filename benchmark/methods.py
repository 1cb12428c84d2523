"""Inpainting methods and the one registry that finds them by name.

Conventions at every method boundary (the engine owns compositing, scoring and files):
- images are float32 tensors in [0, 1], NCHW, RGB;
- masks are float32 tensors N1HW with values in {0, 1}, **1 = hole (occluded)**, as in the paper;
- `inpaint` returns the raw prediction (N3HW in [0, 1]); the engine composites
  `pred * mask + image * (1 - mask)` before scoring, so a method never needs to.
A method whose reference code uses another range or mask polarity converts at its own boundary.

Classical methods subclass `Method`. Learnable methods subclass `LearnableMethod`, which the training
engine (`benchmark.training.trainer`) drives; see that class for the contract.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from dataset_tools.errors import UserError

# name -> ("module:Class", one-line description). `bench methods` lists this table without importing
# every model; tests check each description equals its class's `description`.
REGISTRY: dict[str, tuple[str, str]] = {
    "occluded": ("baselines.occluded:Occluded", "Returns the occluded input unchanged (the paper's 'Occluded images' row)."),
    "telea": ("baselines.telea:Telea", "Fast-marching inpainting (Telea 2004) via OpenCV INPAINT_TELEA."),
    "navier-stokes": ("baselines.navier_stokes:NavierStokes", "Navier-Stokes fluid-dynamics inpainting (Bertalmio et al. 2001) via OpenCV INPAINT_NS."),
    "biharmonic": ("baselines.biharmonic:Biharmonic", "Biharmonic-equation inpainting via scikit-image inpaint_biharmonic."),
    "proposed": ("benchmark.proposed:ProposedTwoStage", "The paper's two-stage model: partial-conv U-Net with dual PatchGAN critics, then multi-scale contextual attention + SE (Dong et al., ICIC 2025)."),
}


class Method:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    learnable: ClassVar[bool] = False
    # Named configurations. Learnable methods define at least "paper" and "smoke".
    presets: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}
    default_preset: ClassVar[str] = "default"

    def __init__(self, config: dict[str, Any], device: torch.device | str = "cpu"):
        self.config = dict(config)
        self.device = torch.device(device)

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def config_notes(self) -> dict[str, Any]:
        """Extra facts recorded in results.json (e.g. 'vgg': 'random-init (no weights)')."""
        return {}


@dataclass
class StepContext:
    """What the trainer hands to `LearnableMethod.train_step`.

    `generator` is a torch.Generator on the training device seeded from (seed, global step, rank): draw
    every random number of the step from it (e.g. WGAN-GP interpolation weights) so a resumed run
    repeats an uninterrupted one exactly. `autocast` is a context-manager factory (bf16 on CUDA when
    enabled, otherwise a no-op). `world_size`/`rank` are for logging only: DDP gradient reduction
    happens inside the wrapped networks.
    """

    step: int
    epoch: int
    phase: str
    generator: torch.Generator
    autocast: Any
    world_size: int = 1
    rank: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


class LearnableMethod(Method):
    """A method that trains. The engine calls, in order:

    1. `build()`: create `self.networks` (name -> nn.Module) and `self.optimizers` (name -> optimizer,
       each over one or more networks) on `self.device`. Names are stable: they are checkpoint keys.
    2. The engine may then replace entries of `self.networks` with DDP wrappers (one per network, as
       StyleGAN2-ADA does). Method code always calls networks through `self.networks[name]`; use
       `unwrap(net)` for attribute access. To use a critic in the generator's loss without DDP
       reduction of the critic, call `unwrap(self.networks[critic])`.
    3. `phases()`: list of (phase name, epochs), e.g. [("coarse", 20), ("joint", 200)]; the engine
       iterates the train split epoch by epoch and calls `train_step(batch, ctx)` for each batch;
       `--max-steps` caps the total.
    4. `train_step(batch, ctx)`: does its own zero_grad/backward/step for every optimizer it uses and
       returns a dict of float losses for logging. `batch` has "image" (ground truth), "occluded",
       "mask" (1 = hole) on the device. A non-finite loss must be returned as such: the engine stops.
    5. `inpaint(image, mask)` in eval mode for scoring.

    Config fields the engine reads from the method's resolved config (all optional):
    - `image_size` (int): training and inference resolution; the engine resizes (area for images, nearest for masks)
      and resizes predictions back to the dataset's size before compositing. Absent/None = native size.
    - `batch_size` (int, default 8): per-process batch; `--batch-size` overrides it.
    - `augment` (dict): `{"hflip": bool, "max_rotation": degrees}` (default `{"hflip": true, "max_rotation": 10}`),
      see `benchmark.training.data`.
    - `log_every` (int, default 10): steps between `metrics.jsonl` records.
    Optional hooks: `perf_extras(config, device) -> {name: zero-arg callable}` (timed by `bench perf train`).
    """

    learnable: ClassVar[bool] = True
    networks: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def build(self) -> None:
        raise NotImplementedError

    def phases(self) -> list[tuple[str, int]]:
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, float]:
        raise NotImplementedError


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DDP wrapper (or the module itself)."""
    return getattr(module, "module", module)


def method_names() -> list[str]:
    return list(REGISTRY)


def get_method_class(name: str) -> type[Method]:
    """A registry name (`telea`) or an importable `package.module:ClassName`, so researchers can plug in their own
    method without editing the registry (e.g. `--method mypkg.mymodel:MyModel`)."""
    if name in REGISTRY:
        target = REGISTRY[name][0]
    elif ":" in name:
        target = name
    else:
        raise UserError(f"unknown method {name!r}; known methods: {', '.join(REGISTRY)} (see 'bench methods'), "
                        "or give package.module:ClassName")
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if name not in REGISTRY and e.name and module_name.startswith(e.name):
            raise UserError(f"method {name!r}: cannot import module {module_name!r} (is it on PYTHONPATH?)") from None
        raise
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise UserError(f"method {name!r}: {module_name} has no Method subclass named {cls_name!r}")
    return cls


def method_display_name(spec: str, cls: type[Method]) -> str:
    """The name used in run folders and results.json: the registry name, else the class's `name`, else the class."""
    if spec in REGISTRY:
        return spec
    return cls.name or cls.__name__


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def deviations_from_paper(cls: type[Method], config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every field of a resolved config that differs from the method's `paper` preset, as
    {dotted.key: {"paper": value, "used": value}} (empty for methods without a `paper` preset)."""
    if "paper" not in cls.presets:
        return {}
    paper, used = _flatten(cls.presets["paper"]), _flatten({k: v for k, v in config.items() if k != "preset"})
    out = {}
    for key in sorted(set(paper) | set(used)):
        if paper.get(key, "<absent>") != used.get(key, "<absent>"):
            out[key] = {"paper": paper.get(key), "used": used.get(key)}
    return out


def resolve_config(cls: type[Method], preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """Preset values, then `--set key=value` overrides (dotted keys reach nested dicts).
    Unknown keys are an error, so a typo never silently does nothing."""
    preset = preset or cls.default_preset
    if preset not in cls.presets:
        raise UserError(f"method {cls.name!r} has no preset {preset!r}; presets: {', '.join(cls.presets)}")
    import copy

    config = copy.deepcopy(cls.presets[preset])
    for key, value in overrides.items():
        node = config
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise UserError(f"--set {key}: {p!r} is not a config section of {cls.name!r}")
            node = node[p]
        if parts[-1] not in node:
            raise UserError(f"--set {key}: no such config field for method {cls.name!r} (preset {preset!r})")
        node[parts[-1]] = value
    config["preset"] = preset
    return config
