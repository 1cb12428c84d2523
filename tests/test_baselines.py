"""The classical methods on analytic cases: what each must reproduce exactly, and what it must not touch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from benchmark.cli import cli
from benchmark.methods import REGISTRY, Method, get_method_class
from dataset_tools.errors import UserError

CLASSICAL = ("occluded", "telea", "navier-stokes", "biharmonic")


def _inputs(image: np.ndarray, hole: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """HxWx3 uint8 + HxW bool -> (1,3,H,W) occluded input (hole painted magenta) and (1,1,H,W) mask."""
    occ = image.copy()
    occ[hole] = (255, 0, 255)
    t = torch.from_numpy(occ).permute(2, 0, 1)[None].float() / 255
    return t, torch.from_numpy(hole)[None, None].float()


def _u8(pred: torch.Tensor) -> np.ndarray:
    return (pred[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def test_registry_descriptions_match_classes():
    for name in CLASSICAL:
        cls = get_method_class(name)
        assert issubclass(cls, Method) and cls.name == name
        assert cls.description == REGISTRY[name][1]


def test_bench_methods_lists_every_entry():
    r = CliRunner().invoke(cli, ["methods"], catch_exceptions=False)
    assert r.exit_code == 0
    lines = r.output.strip().splitlines()
    assert len(lines) == len(REGISTRY)
    for line, (name, (_, desc)) in zip(lines, REGISTRY.items()):
        assert line.split()[0] == name and line.endswith(desc)


def test_method_spec_module_class_and_errors():
    assert get_method_class("baselines.telea:Telea") is get_method_class("telea")
    with pytest.raises(UserError, match="unknown method"):
        get_method_class("nope")
    with pytest.raises(UserError, match="cannot import"):
        get_method_class("no_such_module_xyz:Thing")
    with pytest.raises(UserError, match="no Method subclass"):
        get_method_class("baselines.telea:Nothing")


@pytest.mark.parametrize("name", CLASSICAL)
def test_pixels_outside_the_hole_are_untouched(name):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)
    hole = np.zeros((24, 28), bool)
    hole[8:14, 5:12] = True
    occ, mask = _inputs(image, hole)
    method = get_method_class(name)(get_method_class(name).presets["default"])
    pred = method.inpaint(occ, mask)
    assert pred.shape == occ.shape and pred.dtype == torch.float32
    assert np.array_equal(_u8(pred)[~hole], _u8(occ)[~hole])
    if name == "occluded":
        assert torch.equal(pred, occ)
    else:  # the hole is filled with something that is not the magenta occluder
        assert np.abs(_u8(pred)[hole].astype(int) - (255, 0, 255)).sum(axis=1).min() > 100


@pytest.mark.parametrize("name", ("telea", "navier-stokes", "biharmonic"))
def test_constant_image_is_filled_with_the_constant(name):
    image = np.full((20, 20, 3), (30, 140, 220), np.uint8)
    hole = np.zeros((20, 20), bool)
    hole[6:13, 7:15] = True
    occ, mask = _inputs(image, hole)
    pred = _u8(get_method_class(name)({"radius": 3}).inpaint(occ, mask))
    # Telea's fill adds a gradient estimate taken from already-filled (rounded 8-bit) pixels: +-2 levels of drift
    assert np.abs(pred.astype(int) - image).max() <= (2 if name == "telea" else 1)


def test_biharmonic_reproduces_a_linear_ramp():
    # a linear function is biharmonic (its Laplacian is 0), so the biharmonic fill of a ramp is the ramp itself
    yy, xx = np.mgrid[0:32, 0:32]
    ramp = np.stack([4 * xx + 60, 3 * yy + 40, 2 * xx + 2 * yy + 10], -1).astype(np.uint8)
    hole = np.zeros((32, 32), bool)
    hole[10:20, 12:22] = True
    occ, mask = _inputs(ramp, hole)
    pred = _u8(get_method_class("biharmonic")({}).inpaint(occ, mask))
    assert np.abs(pred.astype(int) - ramp).max() <= 1


def test_telea_radius_is_a_config_field():
    cls = get_method_class("telea")
    assert cls.presets["default"]["radius"] == 3
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    hole = np.zeros((24, 24), bool)
    hole[9:15, 9:15] = True
    occ, mask = _inputs(image, hole)
    a = cls({"radius": 1}).inpaint(occ, mask)
    b = cls({"radius": 7}).inpaint(occ, mask)
    assert not torch.equal(a, b)
