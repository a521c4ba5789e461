"""Shared pytest configuration: derandomised hypothesis profiles.

Profiles: ``ci`` (default; derandomised, modest example counts) and ``full`` (more examples),
selected with ``HYPOTHESIS_PROFILE=full``.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "full", derandomize=False, max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
