"""lambda-promote: build a Lambda function once, prove it in staging, promote the same bytes."""

__version__ = "0.1.0"
