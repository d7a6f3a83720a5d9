"""The inputs: the spec file, its model, schema and images."""
