"""Confidence that means something: the fused score turned into the share of answers that are right.

Ranking (ranking.py) fuses the sources' evidence into a score that orders candidates well but is
not a probability: on held-out synonyms a best candidate scored 0.8 was right far less often than
eight times in ten. `calibrate` maps the score through a monotone, piecewise-linear curve fitted
by isotonic regression (pool adjacent violators, pooled to at most 8 knots: the number that
calibrated best in 5-fold cross-validation within seed 1) on the best candidates of 1,000
held-out HPO synonyms, seed 1 only (`benchmarks/verdicts.py --fit`); seed 2 and the external development sets
are only ever reported on. One curve per engine (the exact set of sources in use; another set keeps its scores) and
verdict group, since a
verified candidate at a given score is right far more often than a narrower or contradicting one.

Scores at or above AUTO_ACCEPT_FLOOR of a verified candidate are left as they are: they are the
exact name matches that "accept at or above 0.9" lets through, right 99 % of the time or more,
and no curve lifts any other candidate to that floor or above it. An engine without fitted
curves keeps its fused scores, and so does a store whose semantic source uses a model tuned on
it (its scores are fused with other weights than the curves were fitted on).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from term2id.core.candidates import Verdict

AUTO_ACCEPT_FLOOR = 0.9
_BELOW_FLOOR = 0.899

# Knots (score, share right) fitted on held-out HPO synonyms, seed 1; see the module docstring.
# engine -> verdict group -> knots, ascending in score.
CURVES: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "exact+fuzzy": {
        "other": (
            (0.1233, 0.0),
            (0.1733, 0.0455),
            (0.2199, 0.1094),
            (0.2731, 0.1169),
            (0.3358, 0.2121),
            (0.3703, 0.3333),
            (0.3953, 0.3864),
            (0.6128, 0.9),
        ),
        "related": (
            (0.2361, 0.0),
            (0.2716, 0.0909),
            (0.2824, 0.1579),
            (0.3157, 0.2037),
            (0.3573, 0.2692),
            (0.3984, 0.5455),
            (0.4335, 0.6),
            (0.4456, 1.0),
        ),
        "verified": (
            (0.2383, 0.8),
            (0.2575, 0.8333),
            (0.2717, 0.8571),
            (0.3798, 0.9329),
            (0.9393, 1.0),
        ),
    },
    "exact+fuzzy+semantic": {
        "other": (
            (0.2507, 0.0),
            (0.4045, 0.1071),
            (0.5153, 0.12),
            (0.6101, 0.1538),
            (0.7123, 0.3204),
            (0.7857, 0.4848),
            (0.8456, 0.56),
            (0.9512, 1.0),
        ),
        "related": (
            (0.5098, 0.0),
            (0.6541, 0.0769),
            (0.7176, 0.1692),
            (0.7695, 0.3158),
            (0.8185, 0.4643),
            (0.8461, 0.5455),
            (0.8607, 0.6071),
            (0.8704, 0.8571),
        ),
        "verified": (
            (0.4983, 0.3333),
            (0.5852, 0.5),
            (0.7519, 0.9434),
            (0.8537, 0.9466),
            (0.973, 1.0),
        ),
    },
}


def engine_of(source_names: Iterable[str]) -> str:
    """The engine of a mapper with these sources ("exact+fuzzy"): curves apply to it alone."""
    return "+".join(sorted(set(source_names)))


def verdict_group(verdict: Verdict) -> str:
    if verdict is Verdict.VERIFIED:
        return "verified"
    if verdict in (Verdict.NARROWER, Verdict.BROADER):
        return "related"
    return "other"


def calibrate(score: float, verdict: Verdict, engine: str) -> float:
    """The share of candidates like this one that were right, by the fitted curve; `score` when
    no curve applies."""
    group = verdict_group(verdict)
    knots = CURVES.get(engine, {}).get(group)
    if not knots:
        return score
    if group == "verified" and score >= AUTO_ACCEPT_FLOOR:
        return score
    # Only a verified name match at or above the floor may be accepted automatically.
    value = min(interpolate(knots, score), _BELOW_FLOOR)
    return round(max(0.0, value), 4)


def interpolate(knots: Sequence[tuple[float, float]], x: float) -> float:
    xs = [k[0] for k in knots]
    at = bisect_right(xs, x)
    if at == 0:
        return knots[0][1]
    if at == len(knots):
        return knots[-1][1]
    (x0, y0), (x1, y1) = knots[at - 1], knots[at]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def fit_isotonic(
    pairs: Iterable[tuple[float, bool]], max_knots: int = 8
) -> tuple[tuple[float, float], ...]:
    """Knots of the isotonic (non-decreasing) fit of right-or-wrong to score, by pooling adjacent
    violators; at most `max_knots`, each at the mean score of its block."""
    blocks: list[list[float]] = []  # [sum of scores, sum right, count]
    for score, right in sorted(pairs):
        blocks.append([score, float(right), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            for i in range(3):
                blocks[-1][i] += last[i]
    while len(blocks) > max_knots:  # merge the smallest block into its smaller neighbour
        at = min(range(len(blocks)), key=lambda i: blocks[i][2])
        other = (
            at - 1
            if at == len(blocks) - 1 or (at > 0 and blocks[at - 1][2] <= blocks[at + 1][2])
            else at + 1
        )
        low, high = sorted((at, other))
        for i in range(3):
            blocks[low][i] += blocks[high][i]
        del blocks[high]
    return tuple((round(b[0] / b[2], 4), round(b[1] / b[2], 4)) for b in blocks)
