"""ECS-native blue/green, linear and canary releases (deploymentController ECS with the
BLUE_GREEN, LINEAR or CANARY strategy): plan.py (preflight, no writes), machine.py (the pure
step over DescribeServiceDeployments), apply.py (register, UpdateService, the follow loop),
ops.py (stop, approve, watch, status, history, rollback)."""
