"""bluegreen: take a container build to production on Amazon ECS, safely."""

__version__ = "0.1.0"
