"""The AWS edge: sessions, live readers and change writers. Only this package calls boto3."""
