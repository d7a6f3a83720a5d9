"""CodeDeploy blue/green: the engine of CODE_DEPLOY services."""
