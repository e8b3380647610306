"""Kubernetes backend: inventory via list + watch, health, logs, metrics, actions."""

from backends.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]
