"""An offline AWS for rehearsals and tests: moto for ECS/ELBv2/CloudWatch/ECR/IAM/STS/EC2,
plus bluegreen's own CodeDeploy engine, behind one loopback endpoint."""

from enum import StrEnum


class StackKind(StrEnum):
    """The kinds of demo stack `bluegreen sandbox stack --kind` builds (kept here, free of
    heavy imports, so the CLI can offer the choice without loading the stack builder)."""

    codedeploy = "codedeploy"  # CODE_DEPLOY controller: blue/green target groups, a group
    rolling = "rolling"  # ECS controller, rolling updates behind one target group
    ecs_native = "ecs-native"  # ECS controller, BLUE_GREEN strategy on listener rules
