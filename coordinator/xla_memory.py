"""XLA settings that keep the coordinator's memory small.

XLA's CPU fusion emitters (on by default in current jaxlib) cost about
240 MB the first time the PSO compiles and most of it stays resident: the
coordinator peaked at ~630 MB before its first task. Without them it peaks
at ~430 MB; the PSO runs a few milliseconds slower on the largest batches
(measured with a 64-task batch: 2.9-3.6 ms with them, 4.8-6.8 ms without),
and small batches run as fast. An operator who prefers the speed sets
`XLA_FLAGS=--xla_cpu_use_fusion_emitters=true`.
"""

import ctypes
import os

FLAG = "--xla_cpu_use_fusion_emitters"


def prefer_small_memory() -> None:
    """Turn the fusion emitters off unless XLA_FLAGS already decides.

    Must run before JAX starts its CPU backend (its first operation).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG in flags:
        return
    os.environ["XLA_FLAGS"] = f"{flags} {FLAG}=false".strip()


M_ARENA_MAX = -8
"""glibc's mallopt parameter for the number of malloc arenas."""
ARENAS = 2


def fewer_malloc_arenas() -> bool:
    """Let at most two malloc arenas serve every thread (glibc only).

    glibc gives threads arenas of their own, up to eight per core; JAX's
    compile and compute threads and the decision thread each fill and
    fragment one. Must run before those threads start.
    """
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, ARENAS))


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc only).

    Compiling leaves much of its working memory free but still resident in
    malloc's arenas; trimming after each compile phase lets the next one
    reuse pages instead of raising the peak. False where there is no glibc.
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
