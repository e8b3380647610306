"""The AWS backend: resources found by tags, health, metrics, logs, compliance, actions, drift."""

from backends.aws.backend import AwsBackend

__all__ = ["AwsBackend"]
