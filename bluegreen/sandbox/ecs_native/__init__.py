"""ECS-native blue/green, linear and canary deployments in the sandbox: request validation,
the ServiceDeployment engine driven on the sandbox clock, and the ECS operations moto lacks
(DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment, ContinueServiceDeployment)."""
