"""Train/test splitting of the built samples (the paper: 2:1 train/test).

Two modes:
- `stratified` (default): every identity is split about 2:1, so the test set covers every individual;
  an identity with at least three images appears in both splits. Exact totals are kept with the
  largest-remainder method, ties broken by a seeded order.
- `identity`: identity-disjoint splits (no individual in both), for re-identification-style evaluation;
  identities are added to the test set in a seeded order until it holds about a third of the images.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from dataset_tools.errors import UserError


def parse_ratio(text: str) -> tuple[int, int]:
    """'2:1' -> (2, 1)."""
    try:
        a, b = (int(x) for x in text.split(":"))
    except ValueError:
        raise UserError(f"--split-ratio must look like TRAIN:TEST with whole numbers, e.g. 2:1 (got {text!r})") from None
    if a <= 0 or b <= 0:
        raise UserError(f"--split-ratio parts must be positive (got {text!r})")
    return a, b


def split_samples(
    identities: list[str], ratio: tuple[int, int], seed: int, by: str = "stratified"
) -> list[str]:
    """Return "train"/"test" for each sample, given each sample's identity (in sample order)."""
    test_frac = ratio[1] / (ratio[0] + ratio[1])
    rng = np.random.default_rng([seed, 0x5EED5])
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ident in enumerate(identities):
        groups[ident].append(i)
    names = sorted(groups)
    out = ["train"] * len(identities)
    if by == "identity":
        order = [names[i] for i in rng.permutation(len(names))]
        target = round(len(identities) * test_frac)
        n_test = 0
        for ident in order[:-1]:  # the last identity in the order always stays in train
            if n_test >= target:
                break
            for i in groups[ident]:
                out[i] = "test"
            n_test += len(groups[ident])
        return out
    if by != "stratified":
        raise UserError(f"--split-by must be 'stratified' or 'identity' (got {by!r})")

    quotas: dict[str, int] = {}
    remainders: list[tuple[float, float, str]] = []
    for ident in names:
        n = len(groups[ident])
        exact = n * test_frac
        q = math.floor(exact)
        if n >= 3:
            q = min(max(q, 1), n - 1)  # both splits see every identity with >= 3 images
        elif n < 3:
            q = 0
        quotas[ident] = q
        remainders.append((exact - math.floor(exact), float(rng.random()), ident))
    target = round(len(identities) * test_frac)
    deficit = target - sum(quotas.values())
    for frac, _tie, ident in sorted(remainders, key=lambda r: (-r[0], r[1])):
        if deficit <= 0:
            break
        n = len(groups[ident])
        if n >= 3 and quotas[ident] < n - 1:
            quotas[ident] += 1
            deficit -= 1
    for ident in names:
        members = groups[ident]
        perm = rng.permutation(len(members))
        for j in perm[: quotas[ident]]:
            out[members[j]] = "test"
    return out
