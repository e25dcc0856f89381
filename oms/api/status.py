"""Gateway room (oms/api): the one exception the gateway raises towards clients, and how it is sent.

Touches nothing. `ApiError(code, message)` becomes a gRPC status with that code and message; with
`retry_after` set it also carries a standard `google.rpc.RetryInfo` detail (grpc-status-details-bin)
and a plain `retry-after-ms` trailer, so any client can read when to retry.
"""

from __future__ import annotations

import math

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


class ApiError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


def invalid(field: str, reason: str) -> ApiError:
    """INVALID_ARGUMENT naming the field and why (the message always starts with the field path)."""
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {reason}")


def trailers(err: ApiError) -> tuple[tuple[str, str | bytes], ...]:
    if err.retry_after is None:
        return ()
    ra = err.retry_after if math.isfinite(err.retry_after) else 3600.0
    secs = int(ra)
    info = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=secs, nanos=int((ra - secs) * 1e9))
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    st = status_pb2.Status(code=err.code.value[0], message=err.message, details=[detail])
    status = rpc_status.to_status(st)
    return (*tuple(status.trailing_metadata), ("retry-after-ms", str(max(1, math.ceil(ra * 1000)))))


async def abort(context: grpc.aio.ServicerContext, err: ApiError) -> None:
    await context.abort(err.code, err.message, trailing_metadata=trailers(err))


def retry_after_of(metadata: object) -> float | None:
    """Client side: the RetryInfo delay (seconds) in an RpcError's trailing metadata, if any."""
    for key, value in metadata or ():  # type: ignore[union-attr]
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            for d in st.details:
                if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                    info = error_details_pb2.RetryInfo()
                    d.Unpack(info)
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None
