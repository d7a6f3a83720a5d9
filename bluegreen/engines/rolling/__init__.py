"""Rolling updates: the engine of ECS services with the ROLLING strategy."""
