"""The day kernel compiled ahead of time, so that a run needs neither numba nor a JIT.

Importing numba and loading its cached kernels costs more than simulating a day, so
:func:`fleetwise.sim.cloudsim.day.run_day` is also compiled once into an extension
module (numba's ``pycc``, with the C compiler) kept beside the numba cache and named
after the sources' digest: a changed source makes a new module, and the stale one is
dropped with the numba cache. Where it cannot be built (no C compiler, a read-only
install) runs use the JIT-compiled kernel, with the same results.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwise.sim.cloudsim import cache_dir, sources_digest

__all__ = ["DayKernel", "aot_module_path", "day_kernel"]

DayKernel = Callable[..., tuple[float, int, float, int, int]]

_EXPORT = "run_day"
# run_day's arguments: f = float64, i = int64, b = bool; "[]" a contiguous array, "[,]" 2-D
_ARGUMENTS = (
    "f[,] f[] f[] f[] f[] i[] i[] f[] f[] f[] f[] i i f b f[] i i f f f i "
    "f[] f[] b[] b[] f[] f[] f[] f[] f[] b[] b[] f[] f[] f[] b[] f[] f[] i[] f[] i[]"
)


def _module_name() -> str:
    return f"_fleetwise_day_{sources_digest()[:16]}"


def aot_module_path() -> Path:
    """Where this version's compiled module is (or would be) kept."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return cache_dir() / f"{_module_name()}{suffix}"


def _import(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(_module_name(), path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _signature() -> Any:
    types: Any = importlib.import_module("numba").types
    scalars = {"f": types.float64, "i": types.int64, "b": types.boolean}
    args: list[Any] = []
    for code in _ARGUMENTS.split():
        base = scalars[code[0]]
        if code.endswith("[,]"):
            args.append(types.Array(base, 2, "C"))
        elif code.endswith("[]"):
            args.append(types.Array(base, 1, "C"))
        else:
            args.append(base)
    result = types.Tuple((types.float64, types.int64, types.float64, types.int64, types.int64))
    return result(*args)


def build(target: Path) -> None:
    """Compile the day kernel into an extension module at ``target`` (about a minute)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's deprecation and its build tools' warnings
        pycc: Any = importlib.import_module("numba.pycc")

        from fleetwise.sim.cloudsim.day import run_day

        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            cc = pycc.CC(_module_name())
            cc.output_dir = tmp
            cc.verbose = False
            cc.export(_EXPORT, _signature())(run_day.py_func)
            cc.compile()
            built = next(Path(tmp).glob(f"{_module_name()}*"))
            shutil.move(str(built), str(target.parent / f".{target.name}.tmp"))
            os.replace(target.parent / f".{target.name}.tmp", target)


def day_kernel(allow_build: bool = True) -> DayKernel:
    """The day kernel: the compiled module (built first if missing), else the JIT one."""
    path = aot_module_path()
    try:
        if not path.exists() and allow_build:
            path.parent.mkdir(parents=True, exist_ok=True)
            build(path)
        if path.exists():
            kernel: DayKernel = getattr(_import(path), _EXPORT)
            return kernel
    except Exception as exc:  # no compiler, read-only cache: the JIT kernel does the same
        print(f"note: using the JIT kernel ({exc})", file=sys.stderr)
    from fleetwise.sim.cloudsim.day import run_day

    jit: DayKernel = run_day
    return jit
