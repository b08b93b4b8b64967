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
    "exact+fuzzy+semantic": {
        "other": (
            (0.3237, 0.0476),
            (0.4664, 0.0968),
            (0.5734, 0.1304),
            (0.6716, 0.2717),
            (0.7365, 0.3684),
            (0.7756, 0.4464),
            (0.8181, 0.55),
            (0.87, 0.6286),
        ),
        "related": (
            (0.5618, 0.0909),
            (0.7015, 0.1951),
            (0.7236, 0.2143),
            (0.7465, 0.2727),
            (0.7707, 0.2857),
            (0.8111, 0.4054),
            (0.8434, 0.5),
            (0.8569, 0.6552),
        ),
        "verified": (
            (0.5222, 0.5),
            (0.7398, 0.9667),
            (0.8456, 0.9673),
            (0.9736, 1.0),
        ),
    },
    "exact+fuzzy": {
        "other": (
            (0.1212, 0.0),
            (0.1755, 0.0426),
            (0.2586, 0.1211),
            (0.3357, 0.2063),
            (0.3706, 0.3462),
            (0.3966, 0.3617),
            (0.4174, 0.6667),
            (0.6972, 1.0),
        ),
        "related": (
            (0.2345, 0.0),
            (0.2716, 0.0909),
            (0.2824, 0.1579),
            (0.304, 0.1935),
            (0.3338, 0.2174),
            (0.3575, 0.32),
            (0.3825, 0.5),
            (0.4153, 0.5333),
        ),
        "verified": (
            (0.249, 0.9091),
            (0.3756, 0.9529),
            (0.9393, 1.0),
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
