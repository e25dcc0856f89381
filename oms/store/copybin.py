"""Store room: njit kernels behind the PostgreSQL writer — binary COPY rows and latest-per-order.

Touches only the arrays it is given. Self-contained on purpose (imports nothing of oms, inlines no
other compiled module), so Numba's own per-file cache key is enough and the cache guard
(oms/shm/jitcache.py) need not watch it. Both kernels release the GIL: parallel writers encode on
their own threads while others wait on PostgreSQL.

`encode_rows`: one pass over the records writes PostgreSQL binary COPY rows (per row a 16-bit field
count, then per field a 32-bit length and the big-endian value, sign- or zero-extended to the column
size) — where numpy did ~50 strided assignments into a big-endian structured array per batch.
`latest_index`: for each client_order_id the index of its highest-seq record among the marked ones,
by an open-addressing hash table (O(n), where a lexsort was O(n log n)).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def encode_rows(w8, w16, w32, w64, src_size, src_idx, signed, dst_size, out):  # type: ignore[no-untyped-def]
    """w8..w64: the same n records viewed as int8/16/32/64 rows (every field is naturally aligned);
    column c reads the src_size[c]-byte field at index src_idx[c] of that view (sign-extended if
    signed[c], else zero-extended) and writes dst_size[c] (2, 4 or 8) big-endian bytes after its 32-bit
    length. Returns the bytes used."""
    n = w8.shape[0]
    ncol = len(src_size)
    p = 0
    for i in range(n):
        out[p] = (ncol >> 8) & 0xFF
        out[p + 1] = ncol & 0xFF
        p += 2
        for c in range(ncol):
            ss = src_size[c]
            k = src_idx[c]
            if ss == 8:
                v = np.int64(w64[i, k])
            elif ss == 4:
                v = np.int64(w32[i, k])
                if not signed[c]:
                    v &= 0xFFFFFFFF
            elif ss == 2:
                v = np.int64(w16[i, k])
                if not signed[c]:
                    v &= 0xFFFF
            else:
                v = np.int64(w8[i, k])
                if not signed[c]:
                    v &= 0xFF
            ds = dst_size[c]
            out[p] = 0
            out[p + 1] = 0
            out[p + 2] = 0
            out[p + 3] = ds
            p += 4
            if ds == 8:
                out[p] = (v >> 56) & 0xFF
                out[p + 1] = (v >> 48) & 0xFF
                out[p + 2] = (v >> 40) & 0xFF
                out[p + 3] = (v >> 32) & 0xFF
                out[p + 4] = (v >> 24) & 0xFF
                out[p + 5] = (v >> 16) & 0xFF
                out[p + 6] = (v >> 8) & 0xFF
                out[p + 7] = v & 0xFF
            elif ds == 4:
                out[p] = (v >> 24) & 0xFF
                out[p + 1] = (v >> 16) & 0xFF
                out[p + 2] = (v >> 8) & 0xFF
                out[p + 3] = v & 0xFF
            else:
                out[p] = (v >> 8) & 0xFF
                out[p + 1] = v & 0xFF
            p += ds
    return p


@njit(cache=True, nogil=True)
def latest_index(coid, seq, take, keys, best, out):  # type: ignore[no-untyped-def]
    """Indices (into out, returned count) of the highest-seq record per coid among take[i] != 0;
    keys/best: scratch of a power-of-two size >= 2 * len(coid), keys zeroed (0 = empty: coid 0 is
    never taken)."""
    mask = len(keys) - 1
    m = 0
    for i in range(len(coid)):
        if not take[i]:
            continue
        k = coid[i]
        h = (k * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
        j = np.int64(h) & mask
        while True:
            if keys[j] == 0:
                keys[j] = k
                best[j] = i
                out[m] = j
                m += 1
                break
            if keys[j] == k:
                if seq[i] >= seq[best[j]]:
                    best[j] = i
                break
            j = (j + 1) & mask
    for t in range(m):
        out[t] = best[out[t]]
    return m
