"""A generic gRPC client that knows nothing about oms (no generated code: it runs in a fresh interpreter
that imports only grpc, grpc_reflection and protobuf) lists the services by reflection and calls one;
and the standard health service answers."""

from __future__ import annotations

import json
import subprocess
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.gateway.conftest import ROOT, Stack

GENERIC = r"""
import json, sys
import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

target, ca, token = sys.argv[1:4]
assert not any(m.startswith("oms") for m in sys.modules), "generic client must not import oms"
creds = grpc.ssl_channel_credentials(open(ca, "rb").read())
ch = grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "localhost")])
db = ProtoReflectionDescriptorDatabase(ch)
services = sorted(db.get_services())
pool = DescriptorPool(db)
method = pool.FindServiceByName("oms.v1.Gateway").FindMethodByName("ListOrders")
Req = message_factory.GetMessageClass(method.input_type)
Resp = message_factory.GetMessageClass(method.output_type)
call = ch.unary_unary("/oms.v1.Gateway/ListOrders", request_serializer=Req.SerializeToString,
                      response_deserializer=Resp.FromString)
req = json_format.ParseDict({"account": 1, "limit": 5}, Req())
resp = call(req, metadata=(("authorization", "Bearer " + token),), timeout=10)
methods = [m.name for m in pool.FindServiceByName("oms.v1.Gateway").methods]
print(json.dumps({"services": services, "methods": methods,
                  "response_type": method.output_type.full_name,
                  "orders": json_format.MessageToDict(resp).get("orders", [])}))
"""


def test_reflection_only_client_lists_and_calls(stack: Stack) -> None:
    out = subprocess.run(
        [sys.executable, "-c", GENERIC, stack.target, str(stack.certs.ca_cert), stack.tokens["viewer"]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "tests",
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert {"oms.v1.Gateway", "oms.v1.Admin", "grpc.health.v1.Health"} <= set(got["services"])
    assert any("ServerReflection" in s for s in got["services"])
    assert {"SubmitOrder", "OrderStream", "StreamEvents", "GetBbo"} <= set(got["methods"])
    assert got["response_type"] == "oms.v1.ListOrdersResponse"
    assert isinstance(got["orders"], list)


def test_health_serving(stack: Stack) -> None:
    h = health_pb2_grpc.HealthStub(stack.channel())
    for svc in ("", "oms.v1.Gateway", "oms.v1.Admin"):
        assert (
            h.Check(health_pb2.HealthCheckRequest(service=svc), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    try:
        h.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
        raise AssertionError("unknown service must be NOT_FOUND")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND
