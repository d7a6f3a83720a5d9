"""Templates rendered into the task definition and AppSpec a release sends."""
