"""Kendall's rank correlation, tau-b (Kendall 1938; the tie correction of Kendall 1945).

DOTS (paper 000 Fig. 1 and §A.1, paper 002 Fig. 1 and §3.2) measures with it how well an edge
importance ranks the stand-alone accuracy of the networks it would select.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence


def _cmp(a: float, b: float) -> int:
    return (a > b) - (a < b)


def _tied_pairs(values: Sequence[float]) -> int:
    """Number of pairs with equal values: the sum over tie groups of t(t-1)/2."""
    return sum(t * (t - 1) // 2 for t in Counter(values).values())


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """tau_b = (n_c - n_d) / sqrt((n_0 - n_1)(n_0 - n_2)).

    n_c / n_d count the concordant / discordant pairs (a pair tied in x or in y is neither),
    n_0 = n(n-1)/2, n_1 and n_2 the pairs tied in x and in y. None when it is undefined: every
    x (or every y) is equal, so one side has no order. O(n^2), meant for a few dozen points.
    """
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b needs two sequences of one length, not {len(x)} and "
                         f"{len(y)}")
    n = len(x)
    concordant = discordant = 0
    for i in range(n):
        for j in range(i + 1, n):
            sign = _cmp(x[i], x[j]) * _cmp(y[i], y[j])
            if sign > 0:
                concordant += 1
            elif sign < 0:
                discordant += 1
    n0 = n * (n - 1) // 2
    denominator = (n0 - _tied_pairs(x)) * (n0 - _tied_pairs(y))
    if denominator == 0:
        return None
    return (concordant - discordant) / math.sqrt(denominator)
