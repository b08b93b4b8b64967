"""Speed of the local-model source against plain llama-cpp-python calls, one run, same GGUF and prompts.

Five ways to get the model's greedy answer, constrained to the store's ids (allow-list grammar),
for the same terms:

  naive   reset the model before each call, `Llama.__call__` with a `LlamaGrammar` per call
  bare    plain sequential `Llama.__call__` (llama-cpp-python keeps the common prompt prefix)
  single  LLMSource.propose term by term (k=1, answer cache off): prefix reuse, grammar parsed
          once, one prompt decoded at a time
  ours    what `Mapper.map_many` does: LLMSource.prefetch on chunks of rows (prompts decoded
          side by side, several sequences per llama_decode), then LLMSource.propose per term;
          answer cache off, so every answer is computed in the timed pass
  rerun   LLMSource.propose again over the same store: every answer from the store's cache

It checks that all five give identical answers and prints terms/s and the ratios
ours/naive (target >= 2x), rerun/naive, and the overhead of one-prompt-at-a-time decoding
(single) over the bare call (target <= 10 %).

    python benchmarks/llm.py --tiny-dir DIR      # DIR from `term2id train tiny --out DIR`
    python benchmarks/llm.py --model M.gguf --pairs terms.tsv [--data-dir D] [--ontology hp]

Figures on the tiny model (under a million parameters) say little about an 8B model: there the
forward pass dominates and the ratios shrink towards what prefix reuse saves on the prompt.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from term2id.core.candidates import Query
from term2id.core.llm.source import LLMSource, ModelOutputUnparsable, open_llm_source
from term2id.core.mapping.mapper import PREFETCH_CHUNK
from term2id.core.ontology.catalog import StoreCatalog

# What an instruction-tuned model is usually given before the question (a short one: the tiny model's context is 256 tokens): the
# part every prompt shares, which prefix reuse reads once and a reset-per-call baseline reads
# every time. The tiny model was not trained with it, so its answers are worse; the timing is
# what this scenario is for.
PREAMBLE = (
    "You are a careful biomedical curation assistant. Answer with one identifier only, with "
    "no explanation. Identifiers must exist in the ontology; never invent one.\n\n"
)


def read_terms(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["term"] for row in csv.DictReader(handle, delimiter="\t")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tiny-dir", type=Path, help="folder written by `term2id train tiny`")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--pairs", type=Path, help="TSV with a 'term' column")
    parser.add_argument(
        "--data-dir", type=Path, help="term2id data folder (default: a temporary one)"
    )
    parser.add_argument("--ontology", default="hp")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed passes per method (best kept)"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.tiny_dir:
        args.model = args.model or args.tiny_dir / "model.gguf"
        args.pairs = args.pairs or args.tiny_dir / "pairs.tsv"
    if not args.model or not args.pairs:
        parser.error("give --tiny-dir, or --model and --pairs")

    from llama_cpp import LlamaGrammar

    scratch = Path(tempfile.mkdtemp(prefix="term2id-bench-llm-"))
    try:
        catalog = StoreCatalog(scratch / "data")
        source_catalog = StoreCatalog(args.data_dir) if args.data_dir else catalog
        if not source_catalog.exists(args.ontology):
            source_catalog.build_default()
        # A private copy of the store, so the answer cache starts empty and is thrown away.
        catalog.stores_dir.mkdir(parents=True, exist_ok=True)
        if source_catalog is not catalog:
            shutil.copy2(source_catalog.path_of(args.ontology), catalog.path_of(args.ontology))
        store = catalog.open(args.ontology)
        terms = read_terms(args.pairs)

        base = open_llm_source(model=args.model, k=1, cache=False, n_threads=args.threads)
        base.prepare(store)
        backend = base.backend
        llm = backend.load()
        grammar = base._grammar(store, False)
        _, trained_template = base._propose_template(store)
        expected = [
            r.get("expected_curie")
            for r in csv.DictReader(args.pairs.open(encoding="utf-8"), delimiter="\t")
        ]
        print(f"model {args.model} ({args.model.stat().st_size / 1e6:.1f} MB), {len(terms)} terms, "
              f"store {store.name} ({store.info.term_count:,} ids in the allow-list grammar), "
              f"threads {args.threads}, best of {args.repeats}")  # fmt: skip

        def scenario(title: str, template: str) -> bool:
            manifest = {"prompt_template": template}
            uncached = LLMSource(backend, k=1, cache=False, manifest=manifest)
            cached = LLMSource(backend, k=1, cache=True, manifest=manifest)
            prompts = [template.replace("{term}", t) for t in terms]
            prompt_tokens = len(llm.tokenize(prompts[0].encode(), add_bos=True, special=True))

            def call(prompt: str) -> str:
                out = llm(prompt, max_tokens=24, temperature=0.0,
                          grammar=LlamaGrammar.from_string(grammar.gbnf, verbose=False))  # fmt: skip
                return out["choices"][0]["text"].strip()

            def naive() -> list[str]:
                answers = []
                for prompt in prompts:
                    llm.reset()
                    answers.append(call(prompt))
                return answers

            def bare() -> list[str]:
                return [call(prompt) for prompt in prompts]

            def propose_all(source: LLMSource, prefetch: bool = False) -> list[str]:
                answers = []
                queries = [Query(term, args.ontology) for term in terms]
                if prefetch:  # as Mapper.map_many does, one chunk of rows at a time
                    for start in range(0, len(queries), PREFETCH_CHUNK):
                        source.prefetch(queries[start : start + PREFETCH_CHUNK], store, 1)
                for term in terms:
                    try:
                        answers.append(
                            source.propose(Query(term, args.ontology), store, 1)[0].curie
                        )
                    except ModelOutputUnparsable:
                        answers.append("")
                return answers

            first_cached_pass = propose_all(cached)  # fills the answer cache
            methods = {"naive": naive, "bare": bare, "single": lambda: propose_all(uncached),
                       "ours": lambda: propose_all(uncached, prefetch=True),
                       "rerun": lambda: propose_all(cached)}  # fmt: skip
            timings: dict[str, list[float]] = {m: [] for m in methods}
            outputs: dict[str, list[str]] = {}
            for _ in range(args.repeats):  # interleaved, so load on the machine hits all alike
                for method, run in methods.items():
                    started = time.perf_counter()
                    outputs[method] = run()
                    timings[method].append(time.perf_counter() - started)
            identical = all(outputs[m] == outputs["naive"] for m in methods) and (
                first_cached_pass == outputs["naive"]
            )
            rate = {m: len(terms) / min(t) for m, t in timings.items()}
            print(f"\n{title}: prompt of {prompt_tokens} tokens")
            for method, per_second in rate.items():
                spread = statistics.pstdev(timings[method]) / statistics.mean(timings[method])
                print(f"  {method:<6} {per_second:9.1f} terms/s   (spread {spread:.0%})")
            print(f"  identical answers (naive, bare, single, ours, rerun): {identical}")
            print(
                f"  ours / naive (batched, prefix reuse, grammar parsed once): {rate['ours'] / rate['naive']:.2f}x  (target >= 2x)"
            )
            print(
                f"  single / naive (prefix reuse, grammar parsed once):          {rate['single'] / rate['naive']:.2f}x"
            )
            print(
                f"  rerun / naive (answer cache):                     {rate['rerun'] / rate['naive']:.1f}x"
            )
            overhead = rate["bare"] / rate["single"] - 1
            print(
                f"  overhead of single over a bare llama-cpp-python call: {overhead:+.1%}  (target <= +10 %)"
            )
            if expected and all(expected):
                right = sum(a == e for a, e in zip(outputs["ours"], expected, strict=True))
                print(f"  top-1 accuracy on {args.pairs.name}: {right / len(expected):.3f}")
            return identical

        identical = scenario("the prompt the model was trained on", trained_template)
        identical &= scenario("the same question after a shared instruction preamble",
                              PREAMBLE + trained_template)  # fmt: skip
        store.close()
        return 0 if identical else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
