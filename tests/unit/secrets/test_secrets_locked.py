"""LockedBuffer: value never shown, zeroised on close and on drop, pages locked, HMAC from locked pages."""

from __future__ import annotations

import gc
import hashlib
import hmac
import pickle
import subprocess
import sys

import pytest

from oms.secrets.locked import LockedBuffer

SECRET = "zk-PLANTED-7f3a9c1e-secret"


def _vmlck_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return -1


def test_repr_str_format_never_show_value() -> None:
    b = LockedBuffer.from_str(SECRET)
    for text in (repr(b), str(b), f"{b}", f"{b!r}", f"{b:>10}", str([b]), str({"k": b})):
        assert SECRET not in text
        assert "hidden" in text
    with pytest.raises(TypeError):
        bytes(b)
    with pytest.raises(TypeError):
        pickle.dumps(b)
    b.close()


def test_value_round_trip_and_constant_time_equality() -> None:
    b = LockedBuffer.from_str(SECRET)
    assert len(b) == len(SECRET)
    assert b.reveal() == SECRET
    assert b == SECRET.encode()
    assert b != b"something else"
    assert b.equals(LockedBuffer.from_str(SECRET))
    b.close()


def test_bytearray_source_is_wiped_after_copy() -> None:
    src = bytearray(SECRET.encode())
    b = LockedBuffer.from_bytes(src)
    assert src == bytearray(len(SECRET))
    assert b.reveal() == SECRET
    b.close()


def test_close_zeroises_the_pages() -> None:
    b = LockedBuffer.from_str(SECRET)
    with b.view() as mv:
        assert bytes(mv) == SECRET.encode()
        b.close()  # the view keeps the mapping alive, so we can look at the very same pages
        assert bytes(mv) == bytes(len(SECRET))
    assert b.closed
    with pytest.raises(ValueError, match="closed"):
        b.reveal()


def test_drop_zeroises_the_pages() -> None:
    b = LockedBuffer.from_str(SECRET)
    pages = memoryview(b._map)  # an independent view of the mapping, outliving the buffer
    assert bytes(pages[: len(SECRET)]) == SECRET.encode()
    del b
    gc.collect()
    assert bytes(pages[: len(SECRET)]) == bytes(len(SECRET))
    pages.release()


def test_pages_are_locked_and_unlocked() -> None:
    before = _vmlck_kb()
    bufs = [LockedBuffer.from_str(SECRET) for _ in range(8)]
    assert all(b.locked for b in bufs), "mlock failed: is RLIMIT_MEMLOCK tiny and CAP_IPC_LOCK missing?"
    assert _vmlck_kb() >= before + 8 * 4  # eight 4 KiB pages
    for b in bufs:
        b.close()
    assert _vmlck_kb() <= before
    assert LockedBuffer(8, mode="off").locked is False


def test_hmac_from_locked_pages_matches_stdlib() -> None:
    # Binance's documented HMAC vector (venue-protocols.md 1.3)
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    payload = (
        b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        b"&timestamp=1499827319559"
    )
    with LockedBuffer.from_str(secret) as b:
        got = b.hmac_sha256_hex(payload)
    assert got == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert got == hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def test_mlockall_in_a_child_process() -> None:
    code = (
        "from oms.secrets.locked import lock_all_memory\n"
        "ok = lock_all_memory()\n"
        "x = bytearray(1 << 20)\n"
        "v = [l for l in open('/proc/self/status') if l.startswith('VmLck:')][0].split()[1]\n"
        "print(ok, v)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    ok, vmlck = out.stdout.split()
    if ok == "True":
        assert int(vmlck) >= 1024  # the 1 MiB bytearray allocated after mlockall(MCL_FUTURE) is locked
    else:
        assert "mlockall refused" in out.stderr


def test_without_cap_ipc_lock_and_zero_memlock_limit() -> None:
    """Where the kernel refuses mlock: "try" warns and continues unlocked, "require" fails clearly."""
    code = (
        "from oms.secrets.locked import LockedBuffer, MemoryLockError, lock_all_memory\n"
        "b = LockedBuffer.from_str('x' * 16)\n"
        "print('try', b.locked, b.reveal() == 'x' * 16)\n"
        "try:\n"
        "    LockedBuffer.from_str('y' * 16, mode='require')\n"
        "except MemoryLockError as e:\n"
        "    print('require', str(e).replace(' ', '_'))\n"
        "print('mlockall', lock_all_memory())\n"
    )
    # drop CAP_IPC_LOCK (root bypasses RLIMIT_MEMLOCK with it) and set the limit to 0
    argv = [
        "prlimit",
        "--memlock=0:0",
        "setpriv",
        "--bounding-set",
        "-ipc_lock",
        "--inh-caps",
        "-ipc_lock",
        sys.executable,
        "-c",
        code,
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["try"] == "False True"
    assert "CAP_IPC_LOCK" in lines["require"] and "ulimit_-l" in lines["require"]
    assert lines["mlockall"] == "False"
    assert "mlock failed" in out.stderr and "y" * 16 not in out.stderr + out.stdout
