"""bluegreen's CodeDeploy (ECS compute platform): the JSON 1.1 API, its records and the engine
that carries deployments out on moto's ECS and ELBv2."""
