"""typer verbs, one module each: parse flags, call a use case, print. No boto3 here."""
