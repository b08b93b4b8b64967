"""`term2id train ...`: thin adapters over term2id.training.

Nothing heavy is imported here at module level (torch, transformers, peft load inside the
commands), so `term2id --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from term2id.cli import common
from term2id.cli.common import data_dir_option
from term2id.cli.options import DataDirOption
from term2id.core.errors import Term2IdError
from term2id.core.ontology import DEFAULT_STORE
from term2id.core.progress import Progress

train_app = typer.Typer(
    help="Train, evaluate and export local models (needs the `train` extra).",
    no_args_is_help=True,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _progress(prefix: str) -> Progress:
    def report(done: int, total: int, message: str) -> None:
        err.print(f"[dim]{prefix} {done}/{total}: {message}[/]", highlight=False)

    return Progress(report)


def _json_line(**fields: object) -> None:
    # Flushed line by line: the reading program shows each step as it happens.
    print(json.dumps(fields), flush=True)


def _json_progress(_prefix: str) -> Progress:
    def report(done: int, total: int, message: str) -> None:
        _json_line(done=done, total=total, message=message)

    return Progress(report)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1024:,.0f} KiB" if n_bytes < 10 << 20 else f"{n_bytes / (1 << 20):,.1f} MiB"


@train_app.command("tiny")
def train_tiny(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the model files.")],
    ontology: Annotated[
        str, typer.Option("--ontology", help="Store the pairs come from.")
    ] = DEFAULT_STORE,
    pairs: Annotated[int, typer.Option("--pairs", min=5, max=500, help="Pairs to memorise.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Seed for sampling and training.")] = 0,
    data_dir: DataDirOption = None,
) -> None:
    """Train a tiny Llama model on the CPU, export it (and a LoRA adapter) to GGUF, check it with llama.cpp."""
    from term2id.training.tiny import build_tiny_model

    data_dir_option(data_dir)  # or the one given before `train`
    store = common.catalog().open(ontology)
    result = build_tiny_model(out_dir, store, pairs, seed, _progress("tiny"))
    table = Table("stage", "seconds", box=None)
    for stage, seconds in result.stage_seconds:
        table.add_row(stage, f"{seconds:.2f}")
    table.add_row("[bold]total[/]", f"{sum(s for _, s in result.stage_seconds):.2f}")
    out.print(table)
    for name, size in result.sizes:
        out.print(f"size {name}: {_size(size)} ({size:,} bytes)", highlight=False)
    out.print(
        f"model: {result.parameters:,} parameters, {result.training_steps} steps; "
        f"adapter: {result.adapter_training_steps} steps",
        highlight=False,
    )
    n_old, n_new = len(result.pairs), len(result.adapter_pairs)
    out.print(f"transformers accuracy {result.transformers_accuracy:.2f} ({n_old} pairs)")
    out.print(f"llama.cpp Q8_0 accuracy {result.q8_llama_cpp_accuracy:.2f}")
    agree = "agree" if result.transformers_agrees_with_llama_cpp else "DISAGREE"
    out.print(f"transformers and llama.cpp {agree} on every answer")
    out.print(
        f"adapter: base model on the {n_new} new pairs {result.base_accuracy_on_adapter_pairs:.2f}; "
        f"with the adapter on all {n_old + n_new}: peft {result.peft_accuracy:.2f}, "
        f"llama.cpp {result.adapter_llama_cpp_accuracy:.2f}"
        + ("" if result.peft_agrees_with_llama_cpp else " (peft and llama.cpp DISAGREE)"),
        highlight=False,
    )
    out.print(f"files in {result.out_dir}", highlight=False)
    out.print(f"llama.cpp accuracy {result.llama_cpp_accuracy:.2f}", highlight=False)


@train_app.command("export")
def train_export(
    model: Annotated[
        Path, typer.Option("--model", help="Hugging Face model folder (safetensors).")
    ],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The GGUF file to write.")],
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="A peft LoRA adapter folder trained on MODEL.")
    ] = None,
    quant: Annotated[
        str,
        typer.Option("--quant", help="F32, F16, Q8_0, Q6_K, Q5_K_M, Q4_K_M or Q4_0 (models only)."),
    ] = "F16",
    merge: Annotated[
        bool,
        typer.Option(
            "--merge", help="Fold the adapter into the model and write one (quantised) model."
        ),
    ] = False,
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="A JSON file of evaluation figures for the manifest."),
    ] = None,
) -> None:
    """Write a model, or a LoRA adapter, as GGUF for llama.cpp, with a manifest beside it."""
    import json
    import tempfile

    from term2id.training.gguf_export import export_lora_adapter, export_model, merge_adapter
    from term2id.training.model_files import read_manifest_fields

    if merge and adapter is None:
        raise Term2IdError("--merge needs --adapter")
    fields = read_manifest_fields(adapter or model)
    if metrics is not None:
        try:
            fields["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise Term2IdError(f"{metrics}: cannot read the metrics ({exc})") from exc
    if adapter is not None and not merge:
        if quant.upper() != "F16":
            err.print(
                "[yellow]note:[/] --quant applies to models; a LoRA file is written in F32 "
                "(quantise the base model separately, or use --merge)"
            )
        result = export_lora_adapter(adapter, model, out_file, fields)
    elif adapter is not None:
        with tempfile.TemporaryDirectory(dir=out_file.parent) as scratch:
            merged = merge_adapter(model, adapter, Path(scratch) / "merged")
            result = export_model(
                merged, out_file, quant, fields | {"merged_adapter": str(adapter)}
            )
    else:
        result = export_model(model, out_file, quant, fields)
    for note in result.fallback_tensors:
        err.print(
            f"[yellow]note:[/] {result.quant}: {note}: llama.cpp uses a fallback type",
            highlight=False,
        )
    out.print(
        f"wrote {result.kind} {result.path} ({result.quant}, {_size(result.size_bytes)}); "
        f"manifest {result.manifest_path}",
        highlight=False,
    )


@train_app.command("data")
def train_data(
    ontology: Annotated[str, typer.Option("--ontology", help="Store to draw terms from.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the JSONL files.")],
    tasks: Annotated[
        str,
        typer.Option(
            "--tasks",
            help="Comma-separated: term2id, id2term, synonym2id, name2symbol, symbol2name, choose.",
        ),
    ] = "term2id",
    per_bin: Annotated[
        int, typer.Option("--per-bin", min=1, help="Terms per popularity bin, per split.")
    ] = 30,
    bins: Annotated[int, typer.Option("--bins", min=1, help="Popularity bins.")] = 20,
    paraphrases: Annotated[
        int, typer.Option("--paraphrases", min=1, help="Prompt wordings per pair.")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    store_search: Annotated[
        bool,
        typer.Option(
            "--store-search",
            help="Choose task: candidates from the store's full-text search instead of the mapper.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Build a popularity-balanced dataset (train + withheld JSONL) from an ontology store."""
    from term2id.training.datasets import (
        build_dataset,
        mapper_retriever,
        parse_tasks,
        write_dataset,
    )

    data_dir_option(data_dir)  # or the one given before `train`
    catalog = common.catalog()
    store = catalog.open(ontology)
    task_names = parse_tasks(tasks)
    retrieve = None
    if "choose" in task_names and not store_search:
        retrieve = mapper_retriever(catalog, ontology)
    dataset = build_dataset(
        store, task_names, per_bin, bins, paraphrases, seed, retrieve, progress=_progress("data")
    )
    paths = write_dataset(dataset, out_dir)
    table = Table("split/task", "records", box=None)
    for key, count in dataset.summary()["records"].items():
        table.add_row(key, str(count))
    out.print(table)
    out.print(
        f"wrote {len(dataset.train)} training and {len(dataset.withheld)} withheld records "
        f"({ontology}, release {store.release}) to {paths['train'].parent}",
        highlight=False,
    )


@train_app.command("run")
def train_run(
    config_file: Annotated[
        Path, typer.Argument(help="YAML: sections model, data, adapter, training.")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one value: section.key=value (repeatable)."),
    ] = None,
) -> None:
    """Train a LoRA (or, on CUDA, QLoRA) adapter; several GPUs with `accelerate launch`."""
    from term2id.training.config import load_config
    from term2id.training.trainer import run_training

    config = load_config(config_file, overrides or [])
    outcome = run_training(config, config_file)
    loss = f"{outcome.train_loss:.4f}" if outcome.train_loss is not None else "n/a"
    out.print(
        f"trained {outcome.steps} steps on {outcome.records} records (final mean loss {loss}); "
        f"prompt format: {'chat template' if outcome.chat_template else 'plain'}"
        + (f"; resumed from {outcome.resumed_from}" if outcome.resumed_from else ""),
        highlight=False,
    )
    out.print(f"adapter: {outcome.adapter_dir}", highlight=False)


@train_app.command("eval")
def train_eval(
    model: Annotated[Path, typer.Option("--model", help="Base model folder (safetensors).")],
    data: Annotated[
        list[Path],
        typer.Option("--data", help="JSONL file(s): train.jsonl and withheld.jsonl (repeatable)."),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the table and plot.")],
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="Adapter to compare with the base model.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many records per file.")
    ] = None,
) -> None:
    """Accuracy before/after fine-tuning: memorised vs withheld, per task and popularity bin."""
    from term2id.training.evaluate import evaluate_models, write_report

    cells = evaluate_models(model, adapter, data, limit, progress=_progress("eval"))
    paths = write_report(cells, out_dir)
    table = Table("model", "split", "task", "n", "accuracy", box=None)
    for cell in cells:
        if cell.popularity_bin is None:
            split = "train (memorised)" if cell.split == "train" else cell.split
            table.add_row(cell.model, split, cell.task, str(cell.n), f"{cell.accuracy:.3f}")
    out.print(table)
    out.print(f"per-bin table {paths['tsv']}, plot {paths['png']}", highlight=False)


@train_app.command("embeddings")
def train_embeddings(
    ontology: Annotated[
        str, typer.Option("--ontology", help="Store whose names the model is tuned on.")
    ] = DEFAULT_STORE,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the name pairs.")] = 1,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=2, help="Pairs per step (each the others' negatives)."),
    ] = 64,
    learning_rate: Annotated[float, typer.Option("--learning-rate", min=1e-7)] = 4e-5,
    definitions: Annotated[
        bool, typer.Option(help="Also pair each definition's first sentence with its label.")
    ] = True,
    hard_negatives: Annotated[
        bool, typer.Option(help="Show each text beside the wrong label it is nearest to.")
    ] = True,
    max_pairs: Annotated[
        int | None, typer.Option("--max-pairs", min=2, help="Tune on a random sample of pairs.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling and shuffling.")] = 0,
    device: Annotated[
        str | None, typer.Option(help="cuda or cpu (default: cuda when there is one).")
    ] = None,
    progress_json: Annotated[
        bool,
        typer.Option(
            "--progress-json",
            help='Write progress to stdout as JSON lines ({"done", "total", "message"}), '
            'then one line {"tuned": ...} (for programs that run this command).',
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Tune the semantic source's sentence model on a store's own synonyms and definitions."""
    from term2id.core.mapping import quiet_third_party_output

    # transformers' "Loading weights" and "Writing model shards" bars: this command shows its own.
    quiet_third_party_output()
    from term2id.training.embeddings import EmbeddingTuning, tune_embeddings

    report = _json_progress if progress_json else _progress
    data_dir_option(data_dir)  # or the one given before `train`
    catalog = common.catalog()
    store = catalog.open(ontology, report("building store") if ontology == DEFAULT_STORE else None)
    tuning = EmbeddingTuning(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        definitions=definitions, hard_negatives=hard_negatives, max_pairs=max_pairs, seed=seed, device=device,
    )  # fmt: skip
    progress = report("embeddings")
    progress.update(0, 0, f"loading the sentence model to tune on {store.name}")
    result = tune_embeddings(store, tuning, progress)
    if progress_json:
        _json_line(
            tuned={
                "store": store.name, "release": store.release, "folder": str(result.folder),
                "pairs": result.pairs, "steps": result.steps, "seconds": result.seconds,
                "device": result.device, "last_loss": result.last_loss,
            }
        )  # fmt: skip
        return
    out.print(
        f"tuned on {result.pairs:,} name pairs of {store.name} {store.release}: "
        f"{result.steps:,} steps in {result.seconds:,.0f} s on {result.device}, "
        f"last loss {result.last_loss:.3f}",
        highlight=False,
    )
    out.print(
        f"model: {result.folder} (mapping against {store.name} uses it with --tuned-embeddings; "
        "names are embedded again on first use)",
        highlight=False,
    )
