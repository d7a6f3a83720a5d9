"""iam-policy knows the ECS-native engine: the service-deployment actions scoped to the
service's deployments and revisions, UpdateService, the ELB reads, and iam:PassRole of the
infrastructure role to ecs.amazonaws.com only."""

from __future__ import annotations

from bluegreen.release import iam


def test_native_policy_grants_the_service_deployment_actions_and_passes_the_role() -> None:
    role = "arn:aws:iam::111122223333:role/ecs-lb"
    inputs = iam.PolicyInputs(
        partition="aws",
        account="111122223333",
        region="us-east-1",
        cluster="c",
        service="web",
        family="web",
        application="",
        deployment_group="",
        repositories=(),
        alarms=(),
        task_roles=(),
        features=iam.features_for(
            strategies=(iam.ECS_NATIVE,),
            ecr_images=False,
            roles=False,
            alarms=False,
            metrics=False,
            custom_config=False,
            account_lookup=False,
        ),
        infrastructure_roles=(role,),
    )
    policy = iam.build_policy(inputs)
    actions = iam.policy_actions(policy)
    for action in (
        "ecs:DescribeServiceDeployments",
        "ecs:ListServiceDeployments",
        "ecs:StopServiceDeployment",
        "ecs:ContinueServiceDeployment",
        "ecs:DescribeServiceRevisions",
        "ecs:UpdateService",
        "elasticloadbalancing:DescribeRules",
    ):
        assert action in actions, action
    assert "codedeploy:CreateDeployment" not in actions
    deployments = next(s for s in policy["Statement"] if s["Sid"] == "EcsServiceDeployments")
    assert deployments["Resource"] == (
        "arn:aws:ecs:us-east-1:111122223333:service-deployment/c/web/*"
    )
    (passing,) = [s for s in policy["Statement"] if "iam:PassRole" in s["Action"]]
    assert passing["Resource"] == role
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}}
