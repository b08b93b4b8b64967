"""Memorisation vs generalisation: accuracy on training and withheld records, before and after.

The comparison of arXiv 2510.19036 for the user's own ontology and model: greedy answers of the
base model and of the base model with the adapter, scored per task, per split (train measures
memorisation, withheld generalisation) and per popularity bin; written as JSON and TSV, and
plotted (matplotlib) as accuracy against popularity bin.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from term2id.core.curation import TrainingRecord
from term2id.core.progress import Progress
from term2id.training.model_files import read_adapter_config, safetensors_files
from term2id.training.trainer import PromptTokenizer, load_base_model, load_records

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccuracyCell:
    model: str  # "base" or "adapter"
    split: str  # "train" (memorisation) or "withheld" (generalisation)
    task: str
    popularity_bin: int | None  # None: all bins together
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def is_correct(generated: str, record: TrainingRecord) -> bool:
    """The first line of the answer equals the expected one (ids exactly, names in any case)."""
    lines = generated.strip().splitlines()
    first = lines[0].strip().rstrip(".") if lines else ""
    if record.task in ("id2term", "symbol2name"):
        return first.casefold() == record.answer.casefold()
    return first == record.answer


def generate_answers(
    model: Any,
    tokenizer: PromptTokenizer,
    prompts: Sequence[str],
    max_new_tokens: int = 32,
    progress: Progress | None = None,
) -> list[str]:
    import torch

    progress = progress or Progress()
    answers = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for index, prompt in enumerate(prompts):
            ids = torch.tensor([tokenizer.prompt_ids(prompt)], device=device)
            output = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_id,
                pad_token_id=tokenizer.pad_id,
            )
            answers.append(tokenizer.decode(output[0, ids.shape[1] :].tolist()))
            if index % 20 == 0:
                progress.update(index, len(prompts), "generating")
    return answers


def score(
    model_name: str, records: Sequence[TrainingRecord], answers: Sequence[str]
) -> list[AccuracyCell]:
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for record, answer in zip(records, answers, strict=True):
        hit = int(is_correct(answer, record))
        for bin_key in (None, record.popularity_bin):
            cell = counts[(record.split, record.task, bin_key)]
            cell[0] += 1
            cell[1] += hit
    return [
        AccuracyCell(model_name, split, task, bin_key, n, correct)
        for (split, task, bin_key), (n, correct) in sorted(
            counts.items(),
            key=lambda kv: (kv[0][0], kv[0][1], -1 if kv[0][2] is None else kv[0][2]),
        )
    ]


def evaluate_models(
    model_dir: Path | str,
    adapter_dir: Path | str | None,
    data_files: Sequence[Path | str],
    limit: int | None = None,
    use_chat_template: bool = True,
    progress: Progress | None = None,
) -> list[AccuracyCell]:
    """Score the base model, and the base model with the adapter when one is given."""
    if adapter_dir is not None:
        read_adapter_config(adapter_dir)
        safetensors_files(adapter_dir, "adapter")  # before peft could unpickle a .bin
    records: list[TrainingRecord] = []
    for path in data_files:
        loaded = load_records(path)
        records += loaded[:limit] if limit else loaded
    tokenizer = PromptTokenizer(model_dir, use_chat_template)
    model = load_base_model(model_dir)
    model.eval()
    prompts = [r.prompt for r in records]
    cells = score("base", records, generate_answers(model, tokenizer, prompts, progress=progress))
    if adapter_dir is not None:
        from peft import PeftModel

        tuned = PeftModel.from_pretrained(model, str(adapter_dir))
        tuned.eval()
        answers = generate_answers(tuned, tokenizer, prompts, progress=progress)
        cells += score("adapter", records, answers)
    return cells


def write_report(cells: Sequence[AccuracyCell], out_dir: Path | str) -> dict[str, Path]:
    """accuracy.tsv, accuracy.json and accuracy_by_bin.png in out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"tsv": out_dir / "accuracy.tsv", "json": out_dir / "accuracy.json",
             "png": out_dir / "accuracy_by_bin.png"}  # fmt: skip
    with paths["tsv"].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["model", "split", "task", "popularity_bin", "n", "correct", "accuracy"])
        for c in cells:
            bin_text = "all" if c.popularity_bin is None else c.popularity_bin
            writer.writerow(
                [c.model, c.split, c.task, bin_text, c.n, c.correct, f"{c.accuracy:.4f}"]
            )
    paths["json"].write_text(
        json.dumps([asdict(c) | {"accuracy": c.accuracy} for c in cells], indent=1) + "\n"
    )
    tasks = sorted({c.task for c in cells})
    figure, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for model in ("base", "adapter"):
            for split, style in (("train", "-"), ("withheld", "--")):
                points = sorted(
                    (c.popularity_bin, c.accuracy)
                    for c in cells
                    if c.task == task and c.model == model and c.split == split
                    and c.popularity_bin is not None
                )  # fmt: skip
                if points:
                    xs, ys = zip(*points, strict=True)
                    axis.plot(xs, ys, style, marker="o", markersize=3,
                              label=f"{model}, {'memorised' if split == 'train' else 'withheld'}")  # fmt: skip
        axis.set_title(task)
        axis.set_xlabel("popularity bin (0 = most annotated)")
        axis.set_ylabel("accuracy")
        axis.set_ylim(-0.02, 1.02)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(paths["png"], dpi=110)
    plt.close(figure)
    return paths
