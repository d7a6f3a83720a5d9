"""A thin correcting layer over moto's ECS answers, where they differ from AWS's.

Each correction intercepts one request (or post-processes moto's answer to it) and talks to
moto only through its own HTTP application, in process, with the caller's signed environ: the
layer adds no state of its own. The AWS page each correction follows is cited beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from bluegreen.sandbox import moto_fixes

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
JSON_11 = "application/x-amz-json-1.1"


class MotoAnswer:
    """One answer of moto's application: status code, headers and body."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def json(self) -> dict[str, Any]:
        try:
            decoded = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    def send(self, start_response: StartResponse, body: bytes | None = None) -> list[bytes]:
        data = self.body if body is None else body
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(data))))
        start_response(self.status, headers)
        return [data]


def call_moto(
    app: WSGIApp, environ: dict[str, Any], body: bytes, target: str | None = None
) -> MotoAnswer:
    """Run one request through moto's application with `environ`'s headers (its signature
    included), the given body and, optionally, another X-Amz-Target."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    env["CONTENT_LENGTH"] = str(len(body))
    if target is not None:
        env["HTTP_X_AMZ_TARGET"] = target
    captured: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"], captured["headers"] = status, list(headers)

    chunks = app(env, start)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return MotoAnswer(captured.get("status", "500 Error"), captured.get("headers", []), data)


def ecs_error(
    start_response: StartResponse, code: str, message: str, status: int = 400
) -> list[bytes]:
    """An error in ECS's JSON 1.1 shape: `{"__type": code, "message": ...}`."""
    data = json.dumps({"__type": code, "message": message}).encode()
    start_response(
        f"{status} Bad Request",
        [("Content-Type", JSON_11), ("Content-Length", str(len(data)))],
    )
    return [data]


def _json(raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


class EcsCorrections:
    """ECS requests whose moto answers differ from AWS's, corrected."""

    def __init__(self, moto_app: WSGIApp, after_update: Callable[[], None]) -> None:
        moto_fixes.apply()  # the corrections that must be made inside moto's models
        self._moto = moto_app
        self._after_update = after_update

    def update_service(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """UpdateService answers the service as it is once the update has started: the
        task definition as an ARN, the new deployment PRIMARY (rolloutState IN_PROGRESS) and
        the one it replaces ACTIVE (awscli's own example, aws-cli
        `awscli/examples/ecs/update-service.rst`; API reference:
        https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).
        moto answers the record before any deployment moved; so the engine takes its step and
        the service is described afresh."""
        answer = call_moto(self._moto, environ, raw)
        if answer.code != 200:
            return answer.send(start_response)
        self._after_update()  # the new deployment is visible to the very next call
        body = answer.json()
        service = body.get("service")
        if not isinstance(service, dict):
            return answer.send(start_response)
        fresh = call_moto(
            self._moto,
            environ,
            json.dumps(
                {"cluster": service.get("clusterArn"), "services": [service.get("serviceArn")]}
            ).encode(),
            ECS_PREFIX + "DescribeServices",
        )
        described = fresh.json().get("services") if fresh.code == 200 else None
        if isinstance(described, list) and described:
            body["service"] = described[0]
        return answer.send(start_response, json.dumps(body).encode())

    def list_tasks(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """ListTasks(serviceName=...) lists that service's tasks only, and an unknown service is
        ServiceNotFoundException; desiredStatus defaults to RUNNING, with or without a service
        (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html).
        moto ignores serviceName; the tasks ECS starts for a service carry the group
        `service:<name>`, so moto's listing without the name is narrowed to that group."""
        request = _json(raw)
        name = request.get("serviceName")
        if not isinstance(name, str) or not name:
            request.setdefault("desiredStatus", "RUNNING")
            return call_moto(self._moto, environ, json.dumps(request).encode()).send(start_response)
        name = name.rsplit("/", 1)[-1]
        cluster = request.get("cluster") or "default"
        described = call_moto(
            self._moto,
            environ,
            json.dumps({"cluster": cluster, "services": [name]}).encode(),
            ECS_PREFIX + "DescribeServices",
        )
        if described.code != 200:
            return described.send(start_response)
        services = described.json().get("services") or []
        if not any(s.get("status") == "ACTIVE" for s in services if isinstance(s, dict)):
            return ecs_error(start_response, "ServiceNotFoundException", "Service not found.")
        unfiltered = {k: v for k, v in request.items() if k not in ("serviceName", "nextToken")}
        unfiltered.pop("maxResults", None)
        unfiltered.setdefault("desiredStatus", "RUNNING")
        listed = call_moto(self._moto, environ, json.dumps(unfiltered).encode())
        if listed.code != 200:
            return listed.send(start_response)
        arns = [str(a) for a in listed.json().get("taskArns") or []]
        group = f"service:{name}"
        mine: list[str] = []
        for start in range(0, len(arns), 100):
            batch = call_moto(
                self._moto,
                environ,
                json.dumps({"cluster": cluster, "tasks": arns[start : start + 100]}).encode(),
                ECS_PREFIX + "DescribeTasks",
            )
            for task in batch.json().get("tasks") or []:
                if isinstance(task, dict) and task.get("group") == group:
                    mine.append(str(task.get("taskArn")))
        mine = [arn for arn in arns if arn in set(mine)]
        return listed.send(start_response, json.dumps({"taskArns": mine}).encode())

    def _task_definition(self, environ: dict[str, Any], name: str) -> dict[str, Any] | None:
        described = call_moto(
            self._moto,
            environ,
            json.dumps({"taskDefinition": name}).encode(),
            ECS_PREFIX + "DescribeTaskDefinition",
        )
        if described.code != 200:
            return None  # moto's own answer (not found) follows when the request runs
        found = described.json().get("taskDefinition")
        return found if isinstance(found, dict) else None

    def refuse_inactive(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes] | None:
        """CreateService, UpdateService and CreateTaskSet refuse an INACTIVE task definition:
        "You can't use an INACTIVE task definition to run new tasks or create new services,
        and you can't update an existing service to reference an INACTIVE task definition"
        (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html);
        ECS answers ClientException "TaskDefinition is inactive". None when the request may
        go on."""
        name = _json(raw).get("taskDefinition")
        if not isinstance(name, str) or not name:
            return None
        found = self._task_definition(environ, name)
        if found is not None and found.get("status") == "INACTIVE":
            return ecs_error(start_response, "ClientException", "TaskDefinition is inactive")
        return None

    def create_task_set(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """A Fargate task definition may give memory at task level only (container-level
        memory is optional there:
        https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_memory).
        moto's CreateTaskSet with a scale then fails inside its task placement (HTTP 500, a
        half-made task set); so the set is created without the scale and the scale applied
        with UpdateTaskSet, which answers the task set as CreateTaskSet would."""
        request = _json(raw)
        scale = request.get("scale")
        name = request.get("taskDefinition")
        found = self._task_definition(environ, name) if isinstance(name, str) and name else None
        containers = (found or {}).get("containerDefinitions") or []
        if scale is None or all(
            isinstance(c, dict) and ("memory" in c or "memoryReservation" in c) for c in containers
        ):
            return call_moto(self._moto, environ, raw).send(start_response)
        unscaled = {k: v for k, v in request.items() if k != "scale"}
        created = call_moto(self._moto, environ, json.dumps(unscaled).encode())
        task_set = created.json().get("taskSet") if created.code == 200 else None
        if not isinstance(task_set, dict):
            return created.send(start_response)
        scaled = call_moto(
            self._moto,
            environ,
            json.dumps(
                {
                    "cluster": task_set.get("clusterArn"),
                    "service": task_set.get("serviceArn"),
                    "taskSet": task_set.get("taskSetArn"),
                    "scale": scale,
                }
            ).encode(),
            ECS_PREFIX + "UpdateTaskSet",
        )
        if scaled.code != 200:
            return scaled.send(start_response)
        return created.send(start_response, scaled.body)


ECR_PREFIX = "AmazonEC2ContainerRegistry_V20150921."


class EcrCorrections:
    """ECR requests whose moto answers differ from AWS's, corrected."""

    def __init__(self, moto_app: WSGIApp) -> None:
        self._moto = moto_app

    def _image(
        self, environ: dict[str, Any], request: dict[str, Any], image_id: dict[str, str]
    ) -> dict[str, Any] | None:
        query = {k: request[k] for k in ("registryId", "repositoryName") if k in request}
        found = call_moto(
            self._moto,
            environ,
            json.dumps(query | {"imageIds": [image_id]}).encode(),
            ECR_PREFIX + "BatchGetImage",
        )
        images = found.json().get("images") if found.code == 200 else None
        return images[0] if isinstance(images, list) and images else None

    def put_image(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """An image's digest is the sha256 of its manifest as pushed ("imageDigest: the image
        digest of the image manifest", https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html;
        a given imageDigest that does not match is ImageDigestDoesNotMatchException). moto
        derives the digest from the layer digests, so a changed manifest with the same layers
        pushed under an existing tag answered the old digest. And pushing a new image under a
        tag moves the tag: the image it named stays, untagged
        (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html),
        where moto deletes it."""
        request = _json(raw)
        manifest = request.get("imageManifest")
        if not isinstance(manifest, str):
            return call_moto(self._moto, environ, raw).send(start_response)
        digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        given = request.get("imageDigest")
        if given and given != digest:
            return ecs_error(
                start_response,
                "ImageDigestDoesNotMatchException",
                f"Invalid parameter at 'imageDigest' failed to satisfy constraint: "
                f"'{given}' does not match the digest {digest} calculated for the manifest.",
            )
        tag = request.get("imageTag")
        before = self._image(environ, request, {"imageTag": tag}) if tag else None
        answer = call_moto(
            self._moto, environ, json.dumps(request | {"imageDigest": digest}).encode()
        )
        moved_from = ((before or {}).get("imageId") or {}).get("imageDigest")
        if (
            answer.code == 200
            and before is not None
            and moved_from
            and moved_from != digest
            and self._image(environ, request, {"imageDigest": moved_from}) is None
        ):
            keep: dict[str, Any] = {
                k: request[k] for k in ("registryId", "repositoryName") if k in request
            }
            keep |= {"imageManifest": before.get("imageManifest"), "imageDigest": moved_from}
            if before.get("imageManifestMediaType"):
                keep["imageManifestMediaType"] = before["imageManifestMediaType"]
            call_moto(self._moto, environ, json.dumps(keep).encode())
        return answer.send(start_response)
