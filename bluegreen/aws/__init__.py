"""The only package that imports boto3: narrow typed gateways, error translation, retries."""
