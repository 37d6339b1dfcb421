"""Comparisons over seeds, paired: run ``i`` of two arms shares seed ``i``
(the same data order, initial weights of the shared parts and dropout draws
until they diverge), so the question is about the per-seed differences
``d_i = a_i - b_i``, not about two separate spreads.

``paired_difference`` gives their mean with a two-sided t-interval (n - 1
degrees of freedom); a verdict says "higher" or "lower" only when the
interval excludes 0. A table of m comparisons widens every interval to
1 - alpha / m (Bonferroni), so the chance that any of its verdicts is wrong
stays at most alpha (``confidence_for``)."""
import math
from typing import Sequence

from scipy.stats import t as student_t


def confidence_for(comparisons: int, alpha: float = 0.05) -> float:
    """The per-interval confidence that keeps ``comparisons`` verdicts jointly
    wrong with probability at most ``alpha`` (Bonferroni)."""
    return 1 - alpha / max(1, comparisons)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """``a - b`` seed by seed: ``n``, ``mean``, ``sd`` (sample), the
    ``confidence`` t-interval ``low``/``high`` (None below 2 pairs) and
    ``verdict`` ('higher', 'lower' or 'not shown')."""
    if len(a) != len(b):
        raise ValueError(f'paired comparison of {len(a)} and {len(b)} runs: the seeds must pair')
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    mean = sum(d) / n
    if n < 2:
        return dict(n=n, mean=mean, sd=None, low=None, high=None, confidence=confidence,
                    verdict='not shown')
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = student_t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    verdict = 'higher' if low > 0 else 'lower' if high < 0 else 'not shown'
    return dict(n=n, mean=mean, sd=sd, low=low, high=high, confidence=confidence,
                verdict=verdict)


def difference_text(diff: dict) -> str:
    """'+2.7 [-2.5, 7.8] not shown': mean and interval, one decimal, and the verdict."""
    if diff['low'] is None:
        return f"{diff['mean']:+.1f} (n = {diff['n']}: no interval)"
    return f"{diff['mean']:+.1f} [{diff['low']:+.1f}, {diff['high']:+.1f}] {diff['verdict']}"
