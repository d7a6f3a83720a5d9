"""Use cases over the engines: one spec or many, promote, cleanup, doctor, diff, iam."""
