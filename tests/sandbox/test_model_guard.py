"""The run-wide model guard (tests/model_guard.py) can fail: a made-up answer with an unknown
member, a wrong enum or an error code the operation does not list is reported; a well-formed
answer, an error every AWS API may answer, and a cut 5xx are not."""

from __future__ import annotations

import json

import botocore.session

from bluegreen.sandbox.server import SandboxServer
from tests import model_guard

ECS = botocore.session.get_session().get_service_model("ecs")
HEADERS = {"content-type": "application/x-amz-json-1.1"}


def _check(operation: str, status: int, body: object) -> list[str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return model_guard.check_answer(ECS.operation_model(operation), status, HEADERS, raw)


def test_a_well_formed_answer_passes() -> None:
    answer = {"services": [{"serviceName": "web", "status": "ACTIVE", "desiredCount": 2}]}
    assert _check("DescribeServices", 200, answer) == []


def test_unknown_members_and_wrong_enums_are_reported() -> None:
    answer = {"services": [{"serviceName": "web", "launchType": "MAINFRAME", "colour": "blue"}]}
    found = _check("DescribeServices", 200, answer)
    assert any("colour" in p for p in found), found
    assert any("MAINFRAME" in p for p in found), found


def test_error_codes_are_held_to_the_operation() -> None:
    assert _check("ListTasks", 400, {"__type": "ServiceNotFoundException"}) == []
    assert _check("ListTasks", 400, {"__type": "ThrottlingException"}) == []
    assert _check("ListTasks", 400, {"__type": "NoSuchThing"}) != []
    assert _check("ListTasks", 502, b"") == []


def test_this_runs_sandbox_answers_are_checked(aws_env: SandboxServer) -> None:
    import boto3

    before = model_guard.CHECKED.get("ecs.ListClusters", 0)
    boto3.client("ecs", endpoint_url=aws_env.url, region_name="us-east-1").list_clusters()
    assert model_guard.CHECKED.get("ecs.ListClusters", 0) == before + 1


ELBV2 = botocore.session.get_session().get_service_model("elbv2")
XML_HEAD = '<DescribeTargetGroupsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'


def _xml(result: str) -> bytes:
    return (
        f"{XML_HEAD}<DescribeTargetGroupsResult>{result}</DescribeTargetGroupsResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        "</DescribeTargetGroupsResponse>"
    ).encode()


def _check_xml(status: int, body: bytes) -> list[str]:
    model = ELBV2.operation_model("DescribeTargetGroups")
    return model_guard.check_answer(model, status, {"content-type": "text/xml"}, body)


def test_xml_answers_are_walked_against_the_shape() -> None:
    good = _xml(
        "<TargetGroups><member><TargetGroupName>tg</TargetGroupName><Port>80</Port>"
        "<Protocol>HTTP</Protocol><HealthCheckEnabled>true</HealthCheckEnabled></member>"
        "</TargetGroups>"
    )
    assert _check_xml(200, good) == []
    bad = _xml(
        "<TargetGroups><member><Colour>blue</Colour><Port>eighty</Port>"
        "<Protocol>CARRIER-PIGEON</Protocol></member></TargetGroups>"
    )
    found = _check_xml(200, bad)
    assert any("Colour" in p for p in found), found
    assert any("eighty" in p for p in found), found
    assert any("CARRIER-PIGEON" in p for p in found), found
    error = b"<ErrorResponse><Error><Code>TargetGroupNotFound</Code></Error></ErrorResponse>"
    assert _check_xml(400, error) == []
    assert _check_xml(400, error.replace(b"TargetGroupNotFound", b"NoSuchThing")) != []
