"""`redeploy` and `promote` on an ECS-native service go through the native engine (never the
rolling path): a redeploy is a ServiceDeployment of the revision the service runs
(forceNewDeployment, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
"forceNewDeployment"), which shifts production to the other target group and ends SUCCESSFUL;
a promote refuses a source whose service deployment is still in flight."""

from __future__ import annotations

import pytest

from bluegreen.errors import DeploymentActive
from bluegreen.release.promote import check_settled
from tests.fixtures.native import Native, wait_for


def test_redeploy_is_a_service_deployment_of_the_same_revision(native: Native) -> None:
    before = native.service()
    serving = native.serving()
    known = set(native.deployments())
    ran = native.cli("redeploy")
    assert ran.code == 0, ran.stdout + ran.stderr
    assert ran.result["taskDefinitionArn"] == before["taskDefinition"]
    fresh = [arn for arn in native.deployments() if arn not in known]
    assert len(fresh) == 1
    assert ran.result["deploymentId"] == fresh[0]
    done = native.deployment(fresh[0])
    assert done["status"] == "SUCCESSFUL"
    assert done["targetServiceRevision"]["arn"] != done["sourceServiceRevisions"][0]["arn"]
    after = native.service()
    assert after["taskDefinition"] == before["taskDefinition"]
    # blue/green: the fresh tasks took production over on the other target group
    assert native.serving() != serving


def test_redeploy_dry_run_writes_nothing(native: Native) -> None:
    known = native.deployments()
    ran = native.cli("redeploy", "--dry-run")
    assert ran.code == 0, ran.stdout + ran.stderr
    assert native.deployments() == known


def test_a_release_in_flight_is_not_settled_for_promote(native: Native) -> None:
    native.settings(timeScale=5)
    started = native.deploy("--no-wait")
    assert started.code == 0, started.stdout + started.stderr
    wait_for(lambda: len(native.service()["deployments"]) > 1, what="a second deployment")
    with pytest.raises(DeploymentActive, match="middle of a deployment"):
        check_settled(native.service(), "shop")
