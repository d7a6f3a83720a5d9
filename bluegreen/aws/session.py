"""One session factory for every AWS client the tool creates.

- honours `--profile` and `--region` (else the standard chain: env, config files);
- endpoints come from the standard chain too (`AWS_ENDPOINT_URL`,
  `AWS_ENDPOINT_URL_<SERVICE>`), which boto3 reads when a client is created, so the
  sandbox and any AWS-compatible endpoint work with no special flag;
- botocore's adaptive retry mode (client-side rate limiting + backoff on throttling);
- boto3 is imported lazily, so `bluegreen --help` never pays for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bluegreen import __version__

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient

DEFAULT_MAX_ATTEMPTS = 8


@dataclass
class Aws:
    """Lazily built boto3 session with one cached client per service.

    Thread-safe: clients are created under a lock (boto3 sessions are not thread-safe),
    and botocore clients themselves may be shared between threads.
    """

    profile: str | None = None
    region: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    _session: Any = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def session(self) -> boto3.Session:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.Session:
        if self._session is None:
            import boto3

            from bluegreen.aws.errors import translate

            try:
                self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
            except Exception as exc:  # ProfileNotFound and friends
                raise translate(exc) from exc
        session: boto3.Session = self._session
        return session

    @property
    def region_name(self) -> str | None:
        name: str | None = self.session().region_name
        return name

    def client(self, service: str, *, single_attempt: bool = False) -> Any:
        """The service's client. `single_attempt`: a second client of the service that botocore
        never retries, for calls that are not idempotent (the caller recognises a lost answer)."""
        key = f"{service}#once" if single_attempt else service
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            from botocore.config import Config

            from bluegreen.aws.errors import translate

            retries: dict[str, Any] = {"mode": "adaptive", "max_attempts": self.max_attempts}
            if single_attempt:
                retries = {"mode": "standard", "total_max_attempts": 1}
            config = Config(
                retries=retries,  # type: ignore[arg-type]
                user_agent_extra=f"bluegreen/{__version__}",
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
            try:
                client = self._session_locked().client(service, config=config)  # type: ignore[call-overload]
            except Exception as exc:  # NoRegionError, unknown endpoint, ...
                raise translate(exc) from exc
            self._clients[key] = client
            return client

    # Typed accessors: the gateways use these so mypy checks every call's parameters.
    def ecs(self) -> ECSClient:
        c: ECSClient = self.client("ecs")
        return c

    def codedeploy(self) -> CodeDeployClient:
        c: CodeDeployClient = self.client("codedeploy")
        return c

    def elbv2(self) -> ElasticLoadBalancingv2Client:
        c: ElasticLoadBalancingv2Client = self.client("elbv2")
        return c

    def cloudwatch(self) -> CloudWatchClient:
        c: CloudWatchClient = self.client("cloudwatch")
        return c

    def ecr(self) -> ECRClient:
        c: ECRClient = self.client("ecr")
        return c

    def sts(self) -> STSClient:
        c: STSClient = self.client("sts")
        return c

    def iam(self) -> IAMClient:
        c: IAMClient = self.client("iam")
        return c

    def ec2(self) -> EC2Client:
        c: EC2Client = self.client("ec2")
        return c
