"""Export a sentence-transformers model's transformer to ONNX, for ONNX Runtime inference.

    python -m term2id.training.onnx_export MODEL_FOLDER OUT.onnx

The semantic source (core, which never imports torch) runs this once per model in a child
process and then embeds with ONNX Runtime: the same weights in float32, so the vectors are the
ones sentence-transformers computes (cosine 1.0000), about twice as fast on a CPU, and mapping
no longer loads torch at all. Only the transformer is exported (inputs input_ids,
attention_mask, token_type_ids; output the last hidden state); pooling and normalising are done
by the caller as the model's own Pooling and Normalize modules say.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OPSET = 17


def export_transformer(model_folder: Path | str, out: Path | str) -> Path:
    """Write the transformer of the sentence-transformers model in `model_folder` to `out`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_folder), device="cpu")
    transformer = model[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = model.tokenizer(
        ["a term", "a longer example term"], padding=True, return_tensors="pt"
    )
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, "last_hidden_state")}
    out = Path(out)
    staging = out.with_name(f"{out.name}.{os.getpid()}.partial")  # two exports never mix
    try:
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState(), tuple(example[name] for name in inputs), str(staging),
                input_names=list(inputs), output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        staging.replace(out)  # never a half-written file under the final name
    finally:
        staging.unlink(missing_ok=True)  # a failed export leaves nothing behind
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m term2id.training.onnx_export MODEL_FOLDER OUT.onnx", file=sys.stderr
        )
        return 2
    try:
        export_transformer(args[0], args[1])
    except Exception as exc:  # the parent falls back to sentence-transformers and logs this
        print(f"cannot export {args[0]} to ONNX: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
