"""JAX's persistent compilation cache for recsearch's programs (`train.compile_cache`), one folder per jaxlib and CPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMPILE_CACHE_MAX_BYTES = 1 << 30  # least recently used programs are evicted beyond this (~150 KB per mlp shape)
COMPILE_CACHE_MIN_SECONDS = 0.1  # our programs take 0.1-2 s to compile; Keras's tiny eager ops are not worth a file


def enable_compile_cache(root: Path) -> Path | None:
    """Keep the XLA programs JAX compiles under `root`, so later processes skip compiling a shape seen before.

    Workers, resumed sweeps, `reproduce` and `export-best` then reuse the programs of architectures already
    trained (benchmarks/compile_options.py --cache). Programs are native code for one CPU and one jaxlib, so
    they go in a subfolder named by both (`compile_cache_tag`): a home folder shared by different machines
    never serves one machine's code to another. The first call of a process wins. A folder that cannot be
    written leaves the cache off with one line on stderr: it only saves time and never holds results, so
    deleting it is always safe. Returns the folder in use, or None.
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = Path(root) / compile_cache_tag()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        print(f"recsearch: compile cache off: cannot write {folder} ({exc.strerror or exc}); set paths.cache_dir "
              f"to a writable folder, or train.compile_cache=false", file=sys.stderr)
        return None
    jax.config.update("jax_compilation_cache_max_size", COMPILE_CACHE_MAX_BYTES)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", COMPILE_CACHE_MIN_SECONDS)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder


def compile_cache_tag() -> str:
    """`jaxlib-<version>-<cpu>`: the jaxlib that compiled and a digest of the CPU model and its feature flags."""
    import hashlib
    import platform

    import jaxlib

    cpu = platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu += "".join(sorted({line for line in lines if line.startswith(("model name", "flags", "Features"))}))
    except OSError:
        cpu += platform.processor()
    return f"jaxlib-{jaxlib.__version__}-{hashlib.sha256(cpu.encode()).hexdigest()[:12]}"
