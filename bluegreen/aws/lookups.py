"""The reads behind template lookups: SSM parameters, CloudFormation stack outputs, S3 objects
(Terraform state files). Each returns plain values or raises the tool's AWS errors (translated
by `aws_errors`); the caching and the messages naming the template line live in
`bluegreen.render.lookups`."""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.aws.errors import aws_errors
from bluegreen.aws.session import Aws
from bluegreen.errors import ResourceNotFound

# A state file bigger than this is refused rather than read into memory.
MAX_OBJECT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # String | StringList | SecureString
    value: str
    arn: str


def get_parameter(aws: Aws, name: str) -> Parameter:
    """GetParameter with decryption; ResourceNotFound when there is no such parameter."""
    ssm = aws.ssm()
    with aws_errors(resource=f"SSM parameter {name}"):
        try:
            found = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        except ssm.exceptions.ParameterNotFound:
            raise ResourceNotFound("no such SSM parameter", where=f"SSM parameter {name}") from None
        except ssm.exceptions.ParameterVersionNotFound:
            raise ResourceNotFound(
                "no such version of the SSM parameter", where=f"SSM parameter {name}"
            ) from None
    return Parameter(
        name=str(found.get("Name", name)),
        type=str(found.get("Type", "String")),
        value=str(found.get("Value", "")),
        arn=str(found.get("ARN", "")),
    )


def stack_outputs(aws: Aws, stack: str) -> dict[str, str]:
    """OutputKey -> OutputValue of the stack; ResourceNotFound when there is no such stack."""
    from botocore.exceptions import ClientError

    cfn = aws.cloudformation()
    with aws_errors(resource=f"CloudFormation stack {stack}"):
        try:
            stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if "does not exist" in message:
                raise ResourceNotFound(
                    "no such CloudFormation stack", where=f"CloudFormation stack {stack}"
                ) from None
            raise
    if not stacks:
        raise ResourceNotFound(
            "no such CloudFormation stack", where=f"CloudFormation stack {stack}"
        )
    return {
        str(o["OutputKey"]): str(o.get("OutputValue", ""))
        for o in stacks[0].get("Outputs") or []
        if "OutputKey" in o
    }


def get_object(aws: Aws, bucket: str, key: str) -> bytes:
    """The object's bytes (at most MAX_OBJECT_BYTES + 1); ResourceNotFound when the bucket or
    the key does not exist."""
    from botocore.exceptions import ClientError

    where = f"s3://{bucket}/{key}"
    s3 = aws.s3()
    with aws_errors(resource=where):
        try:
            answer = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "NoSuchBucket", "404"):
                what = "no such bucket" if code == "NoSuchBucket" else "no such object"
                raise ResourceNotFound(what, where=where) from None
            raise
        body: bytes = answer["Body"].read(MAX_OBJECT_BYTES + 1)  # the caller refuses more
    return body
