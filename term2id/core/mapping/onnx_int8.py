"""An int8 copy of a sentence model's ONNX export, for embedding the terms being mapped.

    python -m term2id.core.mapping.onnx_int8 MODEL.onnx MODEL_FOLDER OUT.onnx

Static quantization (ONNX Runtime's `quantize_static`): the weight matrices in int8, one scale
per output column, and their inputs in uint8 with scales fixed once from calibration texts.
Fixed scales are the point: with dynamic quantization a term's vector depends on the other
texts in its batch (scales per batch), so plain `map`, the window and the engine's workers would
disagree. Here a term's vector is the same alone or in any batch.

Left in float32: the products of two activations (attention scores), and the feed-forward
projections back down to the hidden size, whose inputs (after GELU) have a few very large
values that one fixed scale cannot hold (quantizing them took the cosine to the float32 vectors
from 0.989 to 0.93 on HPO names). The rest runs about 1.5 to 2 times as fast on a CPU.

Calibration texts are drawn from the model's own tokenizer vocabulary with a fixed seed, not
from any store: the same model gives the same int8 file on every machine (calibrating on HPO
names instead gave the same cosines). Runs in a child process (the semantic source starts it
once per model) so that calibration's memory is returned and nothing is written in the
caller's working folder.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

_CALIBRATION_TEXTS = 640
_CALIBRATION_BATCH = 32
_SEED = 0


def calibration_texts(vocabulary: list[str], count: int = _CALIBRATION_TEXTS) -> list[str]:
    """`count` texts of 1 to 10 whole words from the vocabulary, the same on every run."""
    words = sorted(w for w in vocabulary if w.isalpha() and w.islower() and len(w) > 2)
    if not words:
        words = sorted(vocabulary)
    rng = random.Random(_SEED)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 10))) for _ in range(count)]


def weights_to_quantize(model_path: Path) -> tuple[list[str], list[str]]:
    """Names of the matrix products to quantize, and of those to leave in float32."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    keep, leave = [], []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weight = next((shapes[i] for i in node.input if i in shapes), None)
        # Two activations (no weight), or a projection down from a wider layer: float32.
        if weight is None or len(weight) != 2 or weight[0] > weight[1]:
            leave.append(node.name)
        else:
            keep.append(node.name)
    return keep, leave


def quantize(model_path: Path, model_folder: Path, out: Path) -> Path:
    """Write the int8 copy of `model_path` to `out` (never a half-written file under that name)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from term2id.core.mapping.embedding_models import OnnxEncoder

    encoder = OnnxEncoder(model_path, model_folder)
    texts = calibration_texts(list(encoder.tokenizer.get_vocab()))

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(texts), _CALIBRATION_BATCH))

        def get_next(self) -> dict | None:
            start = next(self.batches, None)
            if start is None:
                return None
            batch = texts[start : start + _CALIBRATION_BATCH]
            return encoder.inputs(encoder.tokenizer.encode_batch(batch))

    keep, leave = weights_to_quantize(model_path)
    if not keep:
        raise ValueError(f"{model_path}: no weight matrices to quantize")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f"{out.name}.{os.getpid()}.partial")  # two runs never mix
    try:
        quantize_static(
            str(model_path), str(staging), Batches(), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"], nodes_to_exclude=leave, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )  # fmt: skip
        staging.replace(out)
    finally:
        staging.unlink(missing_ok=True)  # a failed run leaves nothing beside the export
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m term2id.core.mapping.onnx_int8 MODEL.onnx MODEL_FOLDER OUT.onnx")
        return 2
    model_path, model_folder, out = (Path(a).resolve() for a in args)
    # The quantizer may write scratch files in the working folder: give it one of its own.
    with tempfile.TemporaryDirectory(prefix="term2id-int8-") as scratch:
        os.chdir(scratch)
        quantize(model_path, model_folder, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
