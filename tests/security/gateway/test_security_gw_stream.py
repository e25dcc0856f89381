"""Security (gateway): OrderStream cannot be used to get work for free or to make the gateway buffer
without bound. Real gateway, real engine process.

- every command is charged to the token's rate limit, also the ones refused before the engine
  (invalid, out of scope);
- the commands of a stream awaiting the engine's ack are bounded (`stream_max_pending`);
- a client that never reads its answers is cut off once `stream_max_buffered` acks/events wait for it,
  and the gateway's memory stays bounded while it keeps sending.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import grpc

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.client import Client, metadata, order_request
from oms.testing import eventually
from tests.security.gateway.conftest import STREAM_MAX_PENDING as MAX_PENDING
from tests.security.gateway.conftest import Real


def _servicer(real: Real):  # type: ignore[no-untyped-def]
    return real.st.gw.gw.gateway_servicer


def _bad(rid: int, n: int = 1) -> gw.OrderStreamRequest:
    """Commands the gateway refuses itself (unknown symbol): no engine work, only acks."""
    return gw.OrderStreamRequest(
        request_id=rid, submit=[order_request(1, "binance", "NOPE", "buy", "0.001", price="1")] * n
    )


def _good(rid: int) -> gw.OrderStreamRequest:
    return gw.OrderStreamRequest(
        request_id=rid, submit=[order_request(1, "binance", "BTCUSDT", "buy", "0.001", price="50000")]
    )


def test_commands_refused_locally_are_charged(real: Real) -> None:
    st = real.st  # token "slow": 1/s, burst 3
    with Client(st.target, token=st.tokens["slow"], ca=st.certs.ca_cert) as c:
        call = c.stub.OrderStream(iter([_bad(i) for i in range(1, 7)]), metadata=metadata(st.tokens["slow"]))
        acks = [a for resp in call for a in resp.acks]
    codes = [a.error_code for a in sorted(acks, key=lambda a: a.request_id)]
    assert codes[:3] == [grpc.StatusCode.INVALID_ARGUMENT.value[0]] * 3
    assert codes[3:] == [grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]] * 3, codes


def test_pending_acks_of_a_stream_are_bounded(real: Real) -> None:
    st = real.st
    assert st.engine is not None
    link = real.st.gw.gw.link
    os.kill(st.engine.pid, signal.SIGSTOP)  # the engine is alive but answers nothing for a while
    peak = 0
    try:
        with Client(st.target, token=st.tokens["trader"], ca=st.certs.ca_cert) as c:
            reqs = [_good(i) for i in range(1, 2001)]
            call = c.stub.OrderStream(iter(reqs), metadata=metadata(st.tokens["trader"]), timeout=30)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.5:
                peak = max(peak, len(link._pending))
                time.sleep(0.005)
            os.kill(st.engine.pid, signal.SIGCONT)
            got = sum(len(resp.acks) for resp in call)
        assert got == 2000  # every command answered once the engine runs again (or timed out)
    finally:
        os.kill(st.engine.pid, signal.SIGCONT)
    assert 0 < peak <= MAX_PENDING, peak


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_a_client_that_never_reads_is_cut_off_and_memory_stays_bounded(real: Real) -> None:
    st = real.st
    sv = _servicer(real)
    cut_before = sv.streams_cut
    sent = [0]
    stop = threading.Event()

    def requests() -> Iterator[gw.OrderStreamRequest]:
        rid = 0
        while not stop.is_set() and rid < 20_000:
            rid += 1
            sent[0] = rid
            yield _bad(rid, 256)  # 256 acks per request to the client that never reads them

    rss0 = _rss_mb()
    with Client(st.target, token=st.tokens["fuzz"], ca=st.certs.ca_cert) as c:
        call = c.stub.OrderStream(requests(), metadata=metadata(st.tokens["fuzz"]))  # never read
        try:
            eventually(lambda: sv.streams_cut > cut_before, timeout=60)
        finally:
            stop.set()
        eventually(lambda: call.done(), timeout=10)
        assert call.code() == grpc.StatusCode.UNAVAILABLE  # the gateway closed the connection
    grown = _rss_mb() - rss0
    assert grown < 150, f"gateway process grew {grown:.0f} MB for a client that never read"

    def audited() -> bool:
        real.st.gw.gw.audit.flush()
        return "stream cut off: the client stopped reading" in (real.tmp / "audit.jsonl").read_text()

    eventually(audited, timeout=5)
    # the gateway still serves everyone else
    with Client(st.target, token=st.tokens["trader"], ca=st.certs.ca_cert) as c:
        assert c.list_orders(1) is not None
