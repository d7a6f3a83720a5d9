// Drives the sandbox with the unmodified AWS SDK for JavaScript v3 and prints what the SDK
// parsed, one JSON document on stdout. Arguments: a JSON object (endpoint, region, and the
// names of the stacks' resources). Used by tests/sandbox/test_js_sdk.py.
import {
  ECSClient,
  DescribeServicesCommand,
  UpdateServiceCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  ListServiceDeploymentsCommand,
  DescribeServiceDeploymentsCommand,
  waitUntilServicesStable,
} from "@aws-sdk/client-ecs";
import {
  CodeDeployClient,
  ListDeploymentsCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  waitUntilDeploymentSuccessful,
} from "@aws-sdk/client-codedeploy";

const args = JSON.parse(process.argv[2]);
const common = {
  endpoint: args.endpoint,
  region: args.region,
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  maxAttempts: 1,
};
const ecs = new ECSClient(common);
const codedeploy = new CodeDeployClient(common);
const out = {};

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    out[name] = { error: err.name, message: err.message };
  }
}

await step("rollingUpdate", async () => {
  const r = await ecs.send(new UpdateServiceCommand({
    cluster: args.rolling.cluster, service: args.rolling.service, forceNewDeployment: true,
  }));
  return {
    requestId: r.$metadata.requestId ?? null,
    taskDefinition: r.service.taskDefinition,
    deployments: r.service.deployments.map((d) => ({
      id: d.id, status: d.status, rolloutState: d.rolloutState ?? null,
      createdAtIsDate: d.createdAt instanceof Date,
    })),
  };
});
await step("servicesStable", async () => {
  // the SDK's own waiter: one deployment, running = desired (minDelay 1 s keeps the test short)
  const r = await waitUntilServicesStable(
    { client: ecs, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { cluster: args.rolling.cluster, services: [args.rolling.service] },
  );
  return { state: r.state };
});
await step("rollingTasks", async () => {
  const listed = await ecs.send(new ListTasksCommand({
    cluster: args.rolling.cluster, serviceName: args.rolling.service,
  }));
  const arns = listed.taskArns;
  if (!arns.length) return { taskArns: [] };
  const described = await ecs.send(new DescribeTasksCommand({
    cluster: args.rolling.cluster, tasks: arns,
  }));
  return {
    taskArns: arns,
    groups: [...new Set(described.tasks.map((t) => t.group))],
    lastStatus: [...new Set(described.tasks.map((t) => t.lastStatus))],
  };
});
await step("unknownServiceTasks", async () => {
  await ecs.send(new ListTasksCommand({ cluster: args.rolling.cluster, serviceName: "no-such" }));
  return { error: null };
});
await step("nativeDeployments", async () => {
  const listed = await ecs.send(new ListServiceDeploymentsCommand({
    cluster: args.native.cluster, service: args.native.service,
  }));
  const arns = listed.serviceDeployments.map((d) => d.serviceDeploymentArn);
  const described = await ecs.send(new DescribeServiceDeploymentsCommand({
    serviceDeploymentArns: arns,
  }));
  return {
    requestId: described.$metadata.requestId ?? null,
    deployments: described.serviceDeployments.map((d) => ({
      status: d.status,
      lifecycleStage: d.lifecycleStage ?? null,
      targetIsArn: (d.targetServiceRevision?.arn ?? "").startsWith("arn:aws:ecs:"),
      createdAtIsDate: d.createdAt instanceof Date,
      strategy: d.deploymentConfiguration?.strategy ?? null,
    })),
  };
});
await step("nativeService", async () => {
  const r = await ecs.send(new DescribeServicesCommand({
    cluster: args.native.cluster, services: [args.native.service],
  }));
  const s = r.services[0];
  return {
    strategy: s.deploymentConfiguration?.strategy ?? null,
    controller: s.deploymentController?.type ?? null,
    currentServiceRevisions: (s.currentServiceRevisions ?? []).length,
  };
});
await step("codedeploy", async () => {
  const group = await codedeploy.send(new GetDeploymentGroupCommand({
    applicationName: args.codedeploy.application,
    deploymentGroupName: args.codedeploy.group,
  }));
  const listed = await codedeploy.send(new ListDeploymentsCommand({
    applicationName: args.codedeploy.application,
    deploymentGroupName: args.codedeploy.group,
  }));
  const infos = [];
  for (const id of listed.deployments) {
    const got = await codedeploy.send(new GetDeploymentCommand({ deploymentId: id }));
    infos.push({
      id,
      status: got.deploymentInfo.status,
      requestId: got.$metadata.requestId ?? null,
      createTimeIsDate: got.deploymentInfo.createTime instanceof Date,
    });
  }
  return {
    requestId: group.$metadata.requestId ?? null,
    style: group.deploymentGroupInfo.deploymentStyle,
    deployments: infos,
  };
});
await step("deploymentSuccessful", async () => {
  const id = out.codedeploy.deployments[0].id;
  const waited = await waitUntilDeploymentSuccessful(
    { client: codedeploy, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { deploymentId: id },
  );
  return { id, state: waited.state };
});
process.stdout.write(JSON.stringify(out));
