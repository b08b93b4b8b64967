"""`term2id eval`: how well the mapper finds known answers, on a gold file or on synonyms held
out of a copy of a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from term2id.cli import common
from term2id.cli.common import (
    build_embedded_store_if_needed,
    data_dir_option,
    err,
    out,
    progress_bar,
)
from term2id.cli.mapper import make_mapper, mapping_config, prepare
from term2id.cli.options import (
    AdapterOption,
    ApiKeyOption,
    DataDirOption,
    ModelOption,
    ModeOption,
    ServerOption,
    SourcesOption,
    ThresholdOption,
    TunedEmbeddingsOption,
)
from term2id.core.errors import Term2IdError


def _uses_semantic(sources: list) -> bool:
    return any(source.name == "semantic" for source in sources)


def eval_command(
    gold: Annotated[
        Path | None,
        typer.Argument(
            help="TSV or CSV with columns term and expected_curie (not needed with --hold-out-synonyms).",
            show_default=False,
        ),
    ] = None,
    ontology: Annotated[
        str, typer.Option("--ontology", help="Store to map against (or several: hp,go).")
    ] = "hp",
    sources: SourcesOption = None,
    hold_out_synonyms: Annotated[
        int | None,
        typer.Option(
            "--hold-out-synonyms",
            min=1,
            help="Instead of a gold file: hold N synonyms out of a copy of the store and look them up.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling held-out synonyms.")] = 0,
    tune_embeddings: Annotated[
        bool,
        typer.Option(
            "--tune-embeddings",
            help="With --hold-out-synonyms and the semantic source: tune the sentence model on "
            "the copy without the held-out synonyms first (as `train embeddings` does; minutes).",
        ),
    ] = False,
    threshold: ThresholdOption = 0.9,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    model: ModelOption = None,
    adapter: AdapterOption = None,
    mode: ModeOption = "propose",
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    tuned_embeddings: TunedEmbeddingsOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Measure how well the mapper finds known answers: top-1, top-5, MRR, coverage, precision at the threshold, speed."""
    import json
    import tempfile

    from term2id.core.evaluation import evaluate, read_gold
    from term2id.core.evaluation import hold_out_synonyms as make_hold_out
    from term2id.core.mapping import Mapper

    data_dir_option(data_dir)
    if (gold is None) == (hold_out_synonyms is None):
        raise Term2IdError("give either a GOLD file or --hold-out-synonyms N (not both)")
    if hold_out_synonyms is not None and model is not None:
        from term2id.core.evaluation import held_out_synonyms_seen
        from term2id.core.llm import read_manifest

        trained = adapter or model  # what the adapter learned is what it adds to the model
        message, refuse = held_out_synonyms_seen(trained, read_manifest(trained), ontology)
        if refuse:
            raise Term2IdError(message)
        err.print(f"[yellow]warning:[/] {message}", highlight=False)
    # The model tuned on the copy below is the one to measure: --tune-embeddings implies it.
    config = mapping_config(
        sources,
        threshold,
        10,
        model,
        adapter,
        mode,
        server,
        tuned_embeddings or tune_embeddings,
        api_key,
    )
    mapper = make_mapper(config)
    if tune_embeddings and (hold_out_synonyms is None or not _uses_semantic(mapper.sources)):
        raise Term2IdError(
            "--tune-embeddings needs --hold-out-synonyms and the semantic source "
            "(to tune a store itself: term2id train embeddings --ontology NAME)"
        )
    build_embedded_store_if_needed(ontology.split(","))
    with tempfile.TemporaryDirectory(prefix="term2id-eval-") as folder:
        if hold_out_synonyms is not None:
            if "," in ontology:
                raise Term2IdError("--hold-out-synonyms works on one store; give one --ontology")
            if any(hasattr(source, "prepare") for source in mapper.sources):
                # Embeddings cached in the real store once are copied into every held-out copy.
                prepare(mapper, ontology)
            with progress_bar(f"holding out {hold_out_synonyms} synonyms") as progress:
                eval_catalog, items = make_hold_out(
                    common.catalog().open(ontology), hold_out_synonyms, seed, folder, progress
                )
            what = f"{hold_out_synonyms} held-out synonyms of {ontology} (seed {seed})"
            if tune_embeddings:
                from term2id.training.embeddings import tune_embeddings as tune

                with progress_bar("tuning the sentence model without them") as progress:
                    tuned = tune(eval_catalog.open(ontology), progress=progress)
                what += f", sentence model tuned on {tuned.pairs:,} pairs of the rest"
        else:
            eval_catalog, items = common.catalog(), read_gold(gold)
            what = str(gold)
        if not items:
            raise Term2IdError(f"{gold}: no rows to evaluate")
        if eval_catalog is not common.catalog():  # the same sources, over the held-out copy
            mapper = Mapper(
                eval_catalog, mapper.sources, threshold=mapper.threshold, top_k=mapper.top_k,
                rerankers=mapper.rerankers,
            )  # fmt: skip
        # evaluate() prepares the mapper first (shown on this bar) and reports that time apart.
        with progress_bar("evaluating") as progress:
            report = evaluate(mapper, items, ontology, progress)
        eval_catalog.close()
    if json_output:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(
        f"[bold]{what}[/] against {ontology} ({report.release}), sources {', '.join(report.sources)}",
        highlight=False,
    )
    precision = (
        f"{report.precision_at_threshold:.3f} ({report.accepted:,} accepted)"
        if report.precision_at_threshold is not None
        else "n/a (nothing accepted)"
    )
    rows = [
        ("terms", f"{report.n:,}"),
        ("top-1", f"{report.top1:.3f}"),
        ("top-5", f"{report.top5:.3f}"),
        ("MRR", f"{report.mrr:.3f}"),
        ("coverage", f"{report.coverage:.3f}"),
        (f"precision ≥ {report.threshold:g}", precision),
        (f"recall ≥ {report.threshold:g}", f"{report.recall_at_threshold:.3f}"),
        ("verified right", (
            f"{report.verified_precision:.3f} ({report.verified_rows:,} verified)"
            if report.verified_precision is not None else "n/a (nothing verified)"
        )),
        ("calibration ECE", f"{report.ece:.3f}"),
        ("terms/s", f"{report.terms_per_s:,.0f} (setup {report.setup_seconds:.1f} s)"),
    ]  # fmt: skip
    if report.expected_unknown:
        rows.append(
            (
                "ids not in store",
                f"{report.expected_unknown:,} (top-1 on the rest {report.top1_known:.3f})",
            )
        )
    for key, value in rows:
        out.print(f"[bold]{key:>16}[/]  {value}", highlight=False)
    if report.worst_misses:
        out.print("\n[bold]worst misses[/] (wrong answers given with the most confidence)")
        table = Table("term", "expected", "answered", "confidence", "expected at", box=None)
        for miss in report.worst_misses:
            table.add_row(
                miss.term,
                f"{miss.expected_curie} {miss.expected_label or '(not in store)'}",
                f"{miss.found_curie} {miss.found_label}" if miss.found_curie else "(nothing)",
                f"{miss.confidence:.2f}",
                str(miss.rank) if miss.rank else "-",
            )
        out.print(table)
