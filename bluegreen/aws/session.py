"""One session factory for every AWS client the tool creates.

- honours `--profile` and `--region` (else the standard chain: `AWS_REGION`, which the other
  AWS SDKs and the AWS CLI v2 read but botocore does not, then `AWS_DEFAULT_REGION` and the
  profile's config);
- endpoints come from the standard chain too (`AWS_ENDPOINT_URL`,
  `AWS_ENDPOINT_URL_<SERVICE>`), which boto3 reads when a client is created, so the
  sandbox and any AWS-compatible endpoint work with no special flag;
- botocore's adaptive retry mode (client-side rate limiting + backoff on throttling);
- with `role_arn`, the clients use credentials of that role: STS AssumeRole with the
  standard chain's credentials, renewed by another AssumeRole before they expire (a release
  may outlast one session);
- boto3 is imported lazily, so `bluegreen --help` never pays for it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from bluegreen import __version__
from bluegreen.aws.pacing import Pacer, Rate

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

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 8
ROLE_SESSION_SECONDS = 3600  # AssumeRole's default, and what every role allows
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+"
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")
# CI run ids, most specific first: the role's session (CloudTrail) names the run
_RUN_ID_VARIABLES = (
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_WORKFLOW_ID",
    "CODEBUILD_BUILD_NUMBER",
    "BUILD_ID",
)


def role_session_name(environ: Mapping[str, str] | None = None) -> str:
    """`bluegreen-<CI run id or user>` within STS's rules (2-64 characters of
    `[A-Za-z0-9_+=,.@-]`)."""
    env = os.environ if environ is None else environ
    who = next((env[name] for name in _RUN_ID_VARIABLES if env.get(name)), None)
    if who is None:
        who = env.get("USER") or env.get("USERNAME") or "unknown"
    return _SESSION_NAME_CHARS.sub("-", f"bluegreen-{who}")[:64]


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
    role_arn: str | None = None  # assume this role (credentials of the standard chain ask)
    external_id: str | None = None  # AssumeRole's ExternalId, when the role's trust wants one
    _session: Any = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # values template lookups read (ssm, cfn_output, tfstate): one AWS call per lookup a run
    lookup_cache: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False, repr=False)
    # reads that do not change during a run (an application's platform, a deployment config),
    # shared by the specs of a fan-out in this session: one call each, not one per spec
    _memo: dict[tuple[str, ...], Any] = field(default_factory=dict, init=False, repr=False)
    _memo_locks: dict[tuple[str, ...], threading.Lock] = field(
        default_factory=dict, init=False, repr=False
    )
    # client-side token buckets of the low-rate action families (aws.pacing), per session
    _pacers: dict[str, Pacer] = field(default_factory=dict, init=False, repr=False)

    def pacer(self, rate: Rate) -> Pacer:
        """This session's pacer for `rate`'s action family: the specs of a fan-out that share
        the session (one account and Region) share AWS's bucket, and so this one."""
        with self._lock:
            found = self._pacers.get(rate.family)
            if found is None:
                found = self._pacers[rate.family] = Pacer(rate)
            return found

    def remembered(self, key: tuple[str, ...], read: Callable[[], T]) -> T:
        """`read()` once per `key` in this session, even when the specs of a fan-out ask at
        the same moment (the others wait for the first answer); None and errors are not
        remembered (an error may pass; a read that means to keep "missing" returns a value
        that says so, and `forget`s it when the run creates the thing)."""
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._memo:
                found: T = self._memo[key]
                return found
            value = read()
            if value is not None:
                self._memo[key] = value
            return value

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop what `remembered` holds for `key` (this run changed it): the next asks AWS."""
        with self._lock:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            self._memo.pop(key, None)

    def session(self) -> boto3.Session:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.Session:
        if self._session is None:
            import boto3

            from bluegreen.aws.errors import translate

            try:
                region = self.region or os.environ.get("AWS_REGION") or None
                base = boto3.Session(profile_name=self.profile, region_name=region)
            except Exception as exc:  # ProfileNotFound and friends
                raise translate(exc) from exc
            self._session = base if self.role_arn is None else self._assumed(base, self.role_arn)
        session: boto3.Session = self._session
        return session

    def with_region(self, region: str | None) -> Aws:
        """A session like this one (profile, role) in another region."""
        return replace(self, region=region)

    def _assumed(self, base: boto3.Session, role_arn: str) -> boto3.Session:
        """A session whose credentials are `role_arn`'s: AssumeRole now (so a refused role
        fails before anything else), and again whenever they near their expiry."""
        import boto3
        import botocore.session
        from botocore.config import Config
        from botocore.credentials import CredentialResolver, RefreshableCredentials

        from bluegreen.aws.errors import translate

        try:
            sts = base.client(
                "sts",
                config=Config(
                    retries={"mode": "adaptive", "max_attempts": self.max_attempts},
                    user_agent_extra=f"bluegreen/{__version__}",
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                ),
            )
        except Exception as exc:  # NoRegionError, unknown endpoint, ...
            raise translate(exc) from exc
        name = role_session_name()
        extra: dict[str, Any] = {} if self.external_id is None else {"ExternalId": self.external_id}

        def assume() -> dict[str, Any]:
            try:
                resp = sts.assume_role(
                    RoleArn=role_arn,
                    RoleSessionName=name,
                    DurationSeconds=ROLE_SESSION_SECONDS,
                    **extra,
                )
            except Exception as exc:
                raise assume_role_error(
                    exc, role_arn, external=self.external_id is not None
                ) from exc
            creds = resp["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=assume(), refresh_using=assume, method="assume-role"
        )
        core = botocore.session.Session(profile=self.profile)
        core.register_component(
            "credential_provider", CredentialResolver([_given_provider()(credentials)])
        )
        return boto3.Session(botocore_session=core, region_name=base.region_name)

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

    # Template lookups (no typed stubs installed for these three services)
    def ssm(self) -> Any:
        return self.client("ssm")

    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    def s3(self) -> Any:
        return self.client("s3")


def _given_provider() -> type[Any]:
    from botocore.credentials import CredentialProvider

    class Given(CredentialProvider):
        """The one credential provider of an assumed-role session: its refreshable credentials."""

        METHOD = "assume-role"
        CANONICAL_NAME = "bluegreen-assume-role"

        def __init__(self, credentials: Any) -> None:
            super().__init__()
            self.credentials = credentials

        def load(self) -> Any:
            return self.credentials

    return Given


def assume_role_error(exc: BaseException, role_arn: str, *, external: bool) -> Exception:
    """AssumeRole's failure as a BluegreenError naming the role (exit 4); access denied says
    what to check."""
    from bluegreen.aws.errors import translate
    from bluegreen.errors import AccessDenied, BluegreenError

    error = translate(exc, resource=role_arn)
    if isinstance(error, AccessDenied):
        checks = "the role's trust policy lets the calling identity assume it"
        checks += " with this ExternalId (spec `external_id`)" if external else ""
        return AccessDenied(
            f"cannot assume role {role_arn}: {error.message}",
            where="sts:AssumeRole",
            hint=f"check that {checks}, and that the calling identity may call sts:AssumeRole "
            "on the role (`aws sts get-caller-identity` shows who calls)",
        )
    if isinstance(error, BluegreenError) and error.message and role_arn not in error.message:
        error.message = f"assuming role {role_arn}: {error.message}"
    return error
