"""Shared fixtures. `tiny_dataset`: one small synthetic dataset built once per test session with the real
builder (24 samples at 64 px, 4 identities, seed 0), for every stage's tests. Treat it as read-only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner


def pytest_configure(config):
    # keep the occluder cut-out cache (see dataset_tools.occluders.LazyCutouts) inside a throwaway folder,
    # shared by this session and the builds it spawns, never in the user's ~/.cache
    if "BENCH_CACHE_DIR" not in os.environ:
        config._bench_cache = tempfile.mkdtemp(prefix="bench-test-cache-")
        os.environ["BENCH_CACHE_DIR"] = config._bench_cache


def pytest_unconfigure(config):
    made = getattr(config, "_bench_cache", None)
    if made:
        import shutil

        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("BENCH_CACHE_DIR", None)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from benchmark.cli import cli

    out = tmp_path_factory.mktemp("tiny_dataset") / "ds"
    r = CliRunner().invoke(cli, ["build-dataset", "--source", "synthetic", "--num-images", "24", "--size", "64",
                                 "--identities", "4", "--seed", "0", "--workers", "1", "--quiet", "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one intra-op thread is faster, and on a shared 2-core machine two threads per process
    oversubscribe the cores (10x slower steps under load)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
