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
narrower or contradicting one. Each block of these curves counts half a right and half a wrong
answer more than the sample had, so that no answer is shown as always right.

The same fused score orders the candidates of one verdict well, but not candidates of different
verdicts: a verified name scored 0.30 is right far more often than a mismatched one scored 0.35.
So the mapper shows candidates in the order of `likelihood`, by a second set of curves
(ORDER_CURVES) fitted the same way on every candidate shown for those synonyms, not the best
alone; CURVES are then fitted on the best candidate under that order (`most_likely_first`). On
seed 1 this put the right id first for 58 % of the held-out HPO synonyms instead of 48 %
(exact+fuzzy; 65 % instead of 61 % with the default engine) and for 78 % of GO's instead of 57 %.
Ordering by CURVES themselves instead does not settle: refitted on the best candidates it
picks, they move which verdict wins, and the next fit moves it back.

A verified candidate's confidence is the share right of its curve, whatever its score: a
reworded name (a variant, another order, an abbreviation) was right 96 % of the time on seed 1,
and is shown so. Only a verified candidate whose fused score reached AUTO_ACCEPT_FLOOR (the
term's own name, right 99 % of the time or more) is `proven`, and only a proven candidate is
accepted automatically (the mapper's status), unless the threshold is set below the floor: a
confidence at or above the threshold no longer says so by itself. For the order, such scores
stay above every other candidate's likelihood. No candidate of another verdict is shown at the
floor or above it. An engine without fitted curves keeps its fused scores, and so does a store
whose semantic source uses a model tuned on it (its scores are fused with other weights than
the curves were fitted on).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence, Set
from dataclasses import replace

from term2id.core.candidates import Candidate, Verdict
from term2id.core.mapping.ranking import TIE_NOTE

AUTO_ACCEPT_FLOOR = 0.9
_BELOW_FLOOR = 0.899

# Knots (score, share right) fitted on every candidate shown for held-out HPO synonyms of seed 1:
# the order of the candidates (`likelihood`). engine -> verdict group -> knots, ascending.
ORDER_CURVES: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "exact+fuzzy": {
        "other": (
            (0.2315, 0.0108),
            (0.2672, 0.0127),
            (0.2817, 0.0177),
            (0.294, 0.0253),
            (0.3025, 0.0269),
            (0.3177, 0.0286),
            (0.3455, 0.0304),
            (0.3872, 0.0605),
        ),
        "related": (
            (0.2229, 0.0294),
            (0.2791, 0.0696),
            (0.2953, 0.0741),
            (0.345, 0.078),
            (0.3892, 0.084),
            (0.4, 0.1776),
            (0.4092, 0.2396),
            (0.4564, 0.3256),
        ),
        "verified": (
            (0.313, 0.9095),
            (0.3483, 0.9348),
            (0.3941, 0.9476),
            (0.441, 0.9524),
            (0.4481, 0.9643),
            (0.5752, 0.9833),
            (0.975, 0.9851),
            (0.9852, 1.0),
        ),
    },
    "exact+fuzzy+semantic": {
        "other": (
            (0.3371, 0.007),
            (0.4746, 0.0101),
            (0.5555, 0.0194),
            (0.63, 0.0306),
            (0.6816, 0.0339),
            (0.7138, 0.0508),
            (0.7652, 0.0648),
            (0.8209, 0.1256),
        ),
        "related": (
            (0.413, 0.0),
            (0.5611, 0.0247),
            (0.6738, 0.0587),
            (0.7846, 0.0924),
            (0.8366, 0.1982),
            (0.8546, 0.3629),
            (0.8728, 0.5),
            (0.9544, 1.0),
        ),
        "verified": (
            (0.6034, 0.7647),
            (0.7534, 0.8958),
            (0.8016, 0.9111),
            (0.8321, 0.9455),
            (0.8654, 0.9691),
            (0.9155, 0.9826),
            (0.9827, 0.9947),
            (0.989, 1.0),
        ),
    },
}
# Knots (score, share right) fitted on held-out HPO synonyms of seed 1; see the module docstring.
# engine -> verdict group -> knots, ascending in score.
CURVES: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "exact+fuzzy": {
        "other": (
            (0.2308, 0.0537),
            (0.2963, 0.1281),
            (0.3192, 0.2348),
            (0.335, 0.2557),
            (0.353, 0.3148),
            (0.3704, 0.3689),
            (0.3896, 0.4114),
            (0.514, 0.6806),
        ),
        "related": (
            (0.2632, 0.162),
            (0.293, 0.2097),
            (0.3011, 0.2361),
            (0.3461, 0.2419),
            (0.3887, 0.2722),
            (0.3969, 0.4342),
            (0.4021, 0.5208),
            (0.4565, 0.5759),
        ),
        "verified": (
            (0.3035, 0.948),
            (0.3528, 0.9707),
            (0.4096, 0.9726),
            (0.5752, 0.9754),
            (0.975, 0.9815),
            (0.9852, 0.9982),
        ),
    },
    "exact+fuzzy+semantic": {
        "other": (
            (0.4713, 0.1327),
            (0.5973, 0.25),
            (0.6288, 0.2792),
            (0.6738, 0.3315),
            (0.7076, 0.3983),
            (0.7582, 0.4976),
            (0.8171, 0.6099),
            (0.8698, 0.7472),
        ),
        "related": (
            (0.5569, 0.1957),
            (0.6041, 0.3),
            (0.6814, 0.2801),
            (0.788, 0.3502),
            (0.8362, 0.3981),
            (0.8441, 0.5625),
            (0.8563, 0.5929),
            (0.9544, 0.9),
        ),
        "verified": (
            (0.6074, 0.8191),
            (0.7112, 0.9526),
            (0.7706, 0.9586),
            (0.7976, 0.9583),
            (0.8441, 0.9697),
            (0.9155, 0.9784),
            (0.9827, 0.9921),
            (0.989, 0.9974),
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
    if group is None and engine in CURVES:
        return min(score, _BELOW_FLOOR)  # kept, but never accepted as a proven name match
    knots = CURVES.get(engine, {}).get(group) if group else None
    if not knots:
        return score
    share = interpolate(knots, score)
    return round(max(0.0, share if group == "verified" else min(share, _BELOW_FLOOR)), 4)


def likelihood(score: float, verdict: Verdict, engine: str, curves: dict | None = None) -> float:
    """How often a candidate shown with this fused score and verdict was right, by ORDER_CURVES
    (fitted on every candidate shown, not the best alone; or by `curves`, being fitted);
    `score` for an engine without curves. An obsolete, unknown or unchecked id is no name
    match: it is ordered as a mismatched name scored alike would be."""
    groups = (ORDER_CURVES if curves is None else curves).get(engine)
    if not groups:
        return score
    group = verdict_group(verdict) or "other"
    knots = groups.get(group)
    # the term's own name (a verified score at the floor) is shown before any other candidate
    if not knots or (group == "verified" and score >= AUTO_ACCEPT_FLOOR):
        return score
    return min(interpolate(knots, score), _BELOW_FLOOR)


def most_likely_first(
    candidates: Sequence[Candidate], engine: str, kept_first: int | None = None
) -> list[Candidate]:
    """The candidates in the order of their likelihood (ties keep the fused order), each with
    its calibrated confidence, never above that of a candidate shown before it. With
    `kept_first`, the candidates after that many (those a cut to it would drop) stay after them.

    A verified name scored a little below a mismatched one is right far more often: fused
    scores order the candidates of one verdict well, not candidates of different verdicts. The
    best candidate's confidence is calibrated on best candidates (CURVES); the cap keeps the
    list reading downwards for the rest, whose shares were not fitted as such.
    """
    behind = len(candidates) if kept_first is None else kept_first
    ordered = [
        c
        for _, c in sorted(
            enumerate(candidates),
            key=lambda item: (
                item[0] >= behind,
                -likelihood(item[1].confidence, item[1].verdict, engine),
            ),
        )
    ]
    groups = {c.curie: verdict_group(c.verdict) for c in candidates}
    shown: list[Candidate] = []
    for candidate in ordered:
        confidence = calibrate(candidate.confidence, candidate.verdict, engine)
        if shown:
            confidence = min(confidence, shown[-1].confidence)
        shown.append(replace(candidate, confidence=confidence, note=_real_ties(candidate, groups)))
    return shown


# Two candidates of one row whose names both say what the term says: the ontology names two terms
# alike ("Abnormality of the mitochondrion", "Abnormal mitochondrial morphology"), and one at most
# is right. On seed 1 (held-out HPO synonyms with exact+fuzzy and the default engine, GO's with
# exact+fuzzy), where the best was a reworded name, it was right in 44 of 63 such rows and the
# other verified candidates in 18 of 64; after the term's own name, in 5 of 40. All were shown at
# about 0.96, as likely as a verified name alone. The shares below are those, rounded.
ALIKE_BEST_SHARE = 0.7
ALIKE_OTHER_SHARE = 0.3
ALIKE_AFTER_PROVEN_SHARE = 0.1


def split_between_alike(
    candidates: Sequence[Candidate], engine: str, shared: Set[str] = frozenset()
) -> list[Candidate]:
    """The candidates with their confidences shared out where more than one is verified: a
    reworded best at ALIKE_BEST_SHARE at most, the other verified ones at ALIKE_OTHER_SHARE (or
    ALIKE_AFTER_PROVEN_SHARE after the term's own name), and the candidates after the best
    sorted again so the list reads downwards. Terms sharing the matched name (`shared`) were
    capped as such already; an engine without curves keeps its scores."""
    if engine not in CURVES or len(candidates) < 2:
        return list(candidates)
    best, rest = candidates[0], list(candidates[1:])
    alike = [
        at for at, c in enumerate(rest) if c.verdict is Verdict.VERIFIED and c.curie not in shared
    ]
    if best.verdict is not Verdict.VERIFIED or best.curie in shared or not alike:
        return list(candidates)
    other_share = ALIKE_AFTER_PROVEN_SHARE if best.proven else ALIKE_OTHER_SHARE
    for at in alike:
        rest[at] = replace(rest[at], confidence=min(rest[at].confidence, other_share))
    if not best.proven:
        best = replace(best, confidence=min(best.confidence, ALIKE_BEST_SHARE))
    rest.sort(key=lambda c: -c.confidence)  # stable: ties keep their order
    return [best, *rest]


def _real_ties(candidate: Candidate, groups: dict[str, str | None]) -> str:
    """The candidate's note less a tie with a term of another verdict group: fused scores alike
    say little where one name is verified and the other names something else."""
    if TIE_NOTE.split("{}")[0] not in candidate.note:
        return candidate.note  # no tie noted: most candidates
    parts = candidate.note.split("; ")
    kept = [
        part
        for part in parts
        if not any(
            part == TIE_NOTE.format(curie) and group != groups[candidate.curie]
            for curie, group in groups.items()
        )
    ]
    return "; ".join(kept)


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
    pairs: Iterable[tuple[float, bool]], max_knots: int = 8, prior: float = 0.0
) -> tuple[tuple[float, float], ...]:
    """Knots of the isotonic (non-decreasing) fit of right-or-wrong to score, by pooling adjacent
    violators; at most `max_knots`, each at the mean score of its block. With `prior`, a block's
    share is (right + prior) / (count + 2 * prior): a block all wrong or all right in the sample
    is not taken for never or always right."""
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
    return tuple(
        (round(b[0] / b[2], 4), round((b[1] + prior) / (b[2] + 2 * prior), 4)) for b in blocks
    )
