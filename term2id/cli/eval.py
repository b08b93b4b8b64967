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
from term2id.cli.mapper import make_mapper, mapping_config
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


def _tune(store, progress) -> int:  # noqa: ANN001 - an OntologyStore and a Progress
    """Tune the sentence model on a held-out copy of a store, as `train embeddings` does."""
    from term2id.training.embeddings import tune_embeddings

    return tune_embeddings(store, progress=progress).pairs


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

    from term2id.core.candidates import confidence_text
    from term2id.core.evaluation import EvaluationRequest

    data_dir_option(data_dir)
    request = EvaluationRequest(ontology, gold, hold_out_synonyms, seed, tune_embeddings)
    # What the adapter learned is what it adds to the model.
    warning = request.check(adapter or model if model is not None else None)
    if warning is not None:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    # The model tuned on the held-out copy is the one to measure: --tune-embeddings implies it.
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
    request.check_mapper(mapper)
    build_embedded_store_if_needed(ontology.split(","))
    run = request.run(mapper, common.catalog(), step=progress_bar, tune=_tune)
    report, what = run.report, run.measured
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
                confidence_text(miss.confidence),
                str(miss.rank) if miss.rank else "-",
            )
        out.print(table)
