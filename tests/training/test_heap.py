"""The training process's heap: `limit_arenas` caps glibc's malloc arenas (a worker's RSS stays flat), and
`startup_objects_frozen` keeps start-up objects out of the per-trial collections."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from recsearch import heap

GLIBC = pytest.mark.skipif(heap.libc() is None or not hasattr(heap.libc(), "malloc_info"),
                                reason="glibc only")

# Start 8 threads that each malloc once (glibc gives each new thread its own arena until the limit), then count
# the arenas in malloc_info's XML.
COUNT_ARENAS = textwrap.dedent("""
    import ctypes, sys, tempfile, threading
    from recsearch import heap
    if sys.argv[1] == "limit":
        heap.limit_arenas()
    libc = heap.libc()
    libc.malloc.restype = ctypes.c_void_p
    libc.fopen.restype = ctypes.c_void_p
    held, barrier = [], threading.Barrier(8)
    def grab():
        held.append(libc.malloc(4096))
        barrier.wait()  # all 8 threads alive at once
    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(open(out.name).read().count("<heap nr="))
""")


def arenas(mode: str, env: dict[str, str] | None = None) -> int:
    """Malloc arenas in a fresh Python process after 8 threads allocated, with or without `limit_arenas`."""
    done = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, check=True,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None})
    return int(done.stdout.strip())


@GLIBC
def test_limit_arenas_caps_the_arenas_new_threads_get():
    assert arenas("default", {"MALLOC_ARENA_MAX": None}) > heap.ARENAS  # the control: one arena per thread
    assert arenas("limit", {"MALLOC_ARENA_MAX": None}) <= heap.ARENAS


@GLIBC
def test_a_users_malloc_arena_max_wins():
    assert arenas("limit", {"MALLOC_ARENA_MAX": "5"}) == 5


def test_startup_objects_frozen_skips_old_objects_collects_new_garbage_and_unfreezes():
    import gc
    import weakref

    class Node:
        pass

    before = Node()
    with heap.startup_objects_frozen():
        assert gc.get_freeze_count() > 0
        cycle = Node()
        cycle.me = cycle  # garbage only a collection frees
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # a trial's cyclic garbage is still collected
    assert gc.get_freeze_count() == 0  # the caller's objects are collectable again
    assert before is not None
