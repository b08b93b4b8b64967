"""Confidence that means something: the fused score turned into the share of answers that are right.

Ranking (ranking.py) fuses the sources' evidence into a score that orders candidates well but is
not a probability: on held-out synonyms a best candidate scored 0.8 was right far less often than
eight times in ten. `calibrate` maps the score through a monotone, piecewise-linear curve fitted
by isotonic regression (pool adjacent violators, pooled to at most 8 knots: the number that
calibrated best in 5-fold cross-validation within seed 1) on the best candidates of 3,000
held-out HPO synonyms of seed 1, less the 121 that seed 2 samples too (`benchmarks/verdicts.py
--fit --fit-n 3000`); seed 2 and the external development sets are only ever reported on. Within
seed 1, curves fitted on 1,000 rows had an expected calibration error of about 0.04 on the other
rows of seed 1, and fits on about 2,000 rows 0.033: the curves are fitted on all of them.
One curve per engine (the exact set of sources in use; another set keeps its scores) and
verdict group, since a verified candidate at a given score is right far more often than a
narrower or contradicting one.

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

# Knots (score, share right) fitted on held-out HPO synonyms of seed 1; see the module docstring.
# engine -> verdict group -> knots, ascending in score.
CURVES: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "exact+fuzzy": {
        "other": (
            (0.1673, 0.0451),
            (0.2169, 0.065),
            (0.2399, 0.1057),
            (0.2774, 0.1072),
            (0.3125, 0.1743),
            (0.3364, 0.2411),
            (0.3635, 0.3798),
            (0.4407, 0.481),
        ),
        "related": (
            (0.2703, 0.1715),
            (0.3309, 0.1739),
            (0.3433, 0.2083),
            (0.356, 0.2143),
            (0.3653, 0.2667),
            (0.3818, 0.4845),
            (0.413, 0.5036),
            (0.8109, 1.0),
        ),
        "verified": (
            (0.3644, 0.9719),
            (0.8069, 0.9862),
            (0.9852, 1.0),
        ),
    },
    "exact+fuzzy+semantic": {
        "other": (
            (0.3812, 0.0964),
            (0.5268, 0.1429),
            (0.5987, 0.2143),
            (0.6481, 0.283),
            (0.7006, 0.3173),
            (0.7495, 0.4643),
            (0.8089, 0.5217),
            (0.8696, 0.6346),
        ),
        "related": (
            (0.6692, 0.2139),
            (0.7313, 0.2292),
            (0.7409, 0.2727),
            (0.7461, 0.2941),
            (0.7566, 0.375),
            (0.7723, 0.4265),
            (0.8128, 0.4393),
            (0.8594, 0.5765),
        ),
        "verified": (
            (0.5504, 0.5714),
            (0.6218, 0.6667),
            (0.793, 0.9699),
            (0.8664, 0.9745),
            (0.9163, 0.9823),
            (0.9827, 0.9947),
            (0.989, 1.0),
        ),
    },
}


def engine_of(source_names: Iterable[str]) -> str:
    """The engine of a mapper with these sources ("exact+fuzzy"): curves apply to it alone."""
    return "+".join(sorted(set(source_names)))


def verdict_group(verdict: Verdict) -> str | None:
    """The curve a verdict's candidates are calibrated by; None for verdicts held-out synonyms
    never give (an id in the cell, unchecked; an obsolete or unknown id), which no curve was
    fitted on."""
    if verdict is Verdict.VERIFIED:
        return "verified"
    if verdict in (Verdict.NARROWER, Verdict.BROADER):
        return "related"
    if verdict in (Verdict.CONTRADICTS, Verdict.LABEL_MISMATCH):
        return "other"
    return None


def calibrate(score: float, verdict: Verdict, engine: str) -> float:
    """The share of candidates like this one that were right, by the fitted curve; `score` when
    no curve applies."""
    group = verdict_group(verdict)
    knots = CURVES.get(engine, {}).get(group) if group else None
    if group is None and engine in CURVES:
        return min(score, _BELOW_FLOOR)  # kept, but never accepted as a proven name match
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
