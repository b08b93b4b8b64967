"""`python -m term2id.core.llm.serve ARGS`: llama_cpp.server (same options) with the model
loaded as term2id loads its own (term2id.core.llm.runtime: no AMX buffers where they crash).

A module of its own, not run from runtime.py: the package imports runtime, and running an
imported module as __main__ makes Python warn.
"""

from __future__ import annotations

from term2id.core.llm.runtime import use_safe_kernels


def serve_main() -> None:
    """`python -m term2id.core.llm.serve ARGS`: llama_cpp.server with the same safety."""
    import runpy

    try:
        use_safe_kernels()
    except ImportError:
        raise SystemExit("llama-cpp-python is not installed (pip install 'term2id[llm]')") from None
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve_main()
