"""Atomics room: 64-bit acquire/release atomics and a CPU pause for njit code, emitted through llvmlite.

Touches nothing but the memory it is handed. Numba has no atomics API of its own, and a plain load of a
shared index inside a spin loop is hoisted out of the loop by LLVM (the loop then never sees the other
process's store and hangs). Every shared index access in `oms/shm` therefore goes through these
intrinsics, which emit real LLVM atomic instructions (`load atomic ... acquire`, `store atomic ...
release`, `atomicrmw add ... acq_rel`, `cmpxchg ... acq_rel acquire`, `fence`).

All operate on a 1-D `uint64` numpy array and an integer index (the word `arr[idx]`); the word must be
8-byte aligned, which every control block built by `segment.py` is. Values come back as **int64**: LLVM
`i64` is signless, our sequences never reach 2**63, and int64 keeps Numba arithmetic integral (Numba
promotes `uint64 + int64` to float64, a classic silent bug).

| function                                     | LLVM                              | use                     |
|----------------------------------------------|-----------------------------------|-------------------------|
| `load_acquire(a, i) -> int64`                | `load atomic i64 acquire`         | read the other's index  |
| `load_relaxed(a, i) -> int64`                | `load atomic i64 monotonic`       | read an index you own   |
| `store_release(a, i, v)`                     | `store atomic i64 release`        | publish your index      |
| `store_relaxed(a, i, v)`                     | `store atomic i64 monotonic`      | private caches, seqlock |
| `fetch_add(a, i, v) -> int64` (old value)    | `atomicrmw add acq_rel`           | counters                |
| `compare_exchange(a, i, exp, new) -> bool`   | `cmpxchg acq_rel acquire` (strong)| ownership claims        |
| `fence_acquire/fence_release/fence_seq_cst()`| `fence ...`                       | seqlock                 |
| `cpu_pause()`                                | x86 `pause` (inline asm), or no-op| spin loops              |

These are compile-time intrinsics: call them from `@njit` code only (the Python-level helpers in
`ring.py`/`segment.py` wrap them in small njit functions).
"""

from __future__ import annotations

import platform

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_IS_X86 = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686", "x86"}
if _IS_X86:
    # Numba's JIT does not register an asm parser; inline asm (`pause`) needs it or LLVM aborts.
    llvm.initialize_native_asmparser()


def _check(arr: types.Type, idx: types.Type) -> None:
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.uint64):
        raise TypeError(f"oms.shm.atomics: expected a 1-D uint64 array, got {arr}")
    if not isinstance(idx, types.Integer):
        raise TypeError(f"oms.shm.atomics: expected an integer index, got {idx}")


def _word_ptr(context, builder, arrty, arrval, idxty, idxval):  # type: ignore[no-untyped-def]
    ary = context.make_array(arrty)(context, builder, value=arrval)
    idx = context.cast(builder, idxval, idxty, types.intp)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [idx], wraparound=False)


@intrinsic
def load_acquire(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """`arr[idx]` with acquire ordering: later loads/stores cannot move before it."""
    _check(arr, idx)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ptr = _word_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def load_relaxed(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """`arr[idx]` atomically, no ordering (monotonic): for an index only this thread writes."""
    _check(arr, idx)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ptr = _word_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load_atomic(ptr, "monotonic", 8)

    return types.int64(arr, idx), codegen


def _store(ordering: str):  # type: ignore[no-untyped-def]
    def impl(typingctx, arr, idx, val):  # type: ignore[no-untyped-def]
        _check(arr, idx)
        if not isinstance(val, types.Integer):
            raise TypeError(f"oms.shm.atomics: store value must be an integer, got {val}")

        def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
            ptr = _word_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
            v = context.cast(builder, args[2], sig.args[2], types.int64)
            builder.store_atomic(v, ptr, ordering, 8)
            return context.get_dummy_value()

        return types.void(arr, idx, val), codegen

    return impl


store_release = intrinsic(_store("release"))
store_release.__doc__ = "`arr[idx] = val` with release ordering: earlier stores are visible first."
store_relaxed = intrinsic(_store("monotonic"))
store_relaxed.__doc__ = "`arr[idx] = val` atomically, no ordering (monotonic)."


@intrinsic
def fetch_add(typingctx, arr, idx, val):  # type: ignore[no-untyped-def]
    """Atomically `arr[idx] += val` (acq_rel); returns the previous value."""
    _check(arr, idx)
    if not isinstance(val, types.Integer):
        raise TypeError(f"oms.shm.atomics: fetch_add value must be an integer, got {val}")

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ptr = _word_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, v, "acq_rel")

    return types.int64(arr, idx, val), codegen


@intrinsic
def compare_exchange(typingctx, arr, idx, expected, new):  # type: ignore[no-untyped-def]
    """Strong CAS: if `arr[idx] == expected` store `new` (acq_rel) and return True, else False (acquire)."""
    _check(arr, idx)
    if not (isinstance(expected, types.Integer) and isinstance(new, types.Integer)):
        raise TypeError("oms.shm.atomics: compare_exchange expected/new must be integers")

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ptr = _word_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        exp = context.cast(builder, args[2], sig.args[2], types.int64)
        nv = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, exp, nv, "acq_rel", "acquire")
        return builder.extract_value(pair, 1)

    return types.boolean(arr, idx, expected, new), codegen


def _fence(ordering: str):  # type: ignore[no-untyped-def]
    def impl(typingctx):  # type: ignore[no-untyped-def]
        def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
            builder.fence(ordering)
            return context.get_dummy_value()

        return types.void(), codegen

    return impl


fence_acquire = intrinsic(_fence("acquire"))
fence_acquire.__doc__ = "Acquire fence: loads before it are ordered before loads/stores after it."
fence_release = intrinsic(_fence("release"))
fence_release.__doc__ = "Release fence: loads/stores before it are ordered before stores after it."
fence_seq_cst = intrinsic(_fence("seq_cst"))
fence_seq_cst.__doc__ = "Full fence (x86 `mfence`)."


@intrinsic
def cpu_pause(typingctx):  # type: ignore[no-untyped-def]
    """Spin-loop hint: x86 `pause` (saves power, frees the sibling hyperthread); a no-op elsewhere.

    The inline asm is marked side-effecting so LLVM keeps it (and the loop around it) in place.
    """

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        if _IS_X86:
            asm = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "pause", "~{memory}", side_effect=True)
            builder.call(asm, [])
        return context.get_dummy_value()

    return types.void(), codegen
