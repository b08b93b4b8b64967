"""Loading llama.cpp safely on CPUs where one of its kernels crashes.

On CPUs with AMX (Intel Sapphire Rapids and later), llama.cpp repacks weights into an AMX
buffer and its AMX matrix product can crash the process on the first decode (a segmentation
fault, ggml-org/llama.cpp#20824; a build made with GGML_NATIVE picks AMX up by itself). Where
ggml reports AMX, models are loaded without the extra buffer types (the plain CPU kernels:
same answers, no crash). llama-cpp-python's `Llama` does not expose that setting, so the
default parameters it starts from are adjusted once per process.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_done = False


def cpu_has_amx(system_info: str) -> bool:
    """Whether ggml's system report (llama_print_system_info) says the CPU has AMX."""
    return "AMX_INT8 = 1" in system_info


def use_safe_kernels() -> None:
    """Make every later `llama_cpp.Llama(...)` in this process avoid the AMX buffers, where
    the CPU has them. Idempotent; raises ImportError without llama-cpp-python."""
    global _done
    with _lock:
        if _done:
            return
        import llama_cpp.llama as llama_module

        low_level = llama_module.llama_cpp  # the module whose defaults Llama() starts from
        if cpu_has_amx(low_level.llama_print_system_info().decode(errors="replace")):
            defaults = low_level.llama_model_default_params

            def without_extra_buffers() -> Any:
                params = defaults()
                params.use_extra_bufts = False
                return params

            low_level.llama_model_default_params = without_extra_buffers
        _done = True


def load_llama(*args: Any, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(*args, **kwargs)`, loaded with `use_safe_kernels` in force."""
    use_safe_kernels()
    from llama_cpp import Llama as Loaded

    return Loaded(*args, **kwargs)
