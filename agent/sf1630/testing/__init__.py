"""Helpers for testing sf1630 plugins: the conformance suite and pytest fixtures.

``sf1630.testing.conformance`` holds ``SourceConformance``, ``SinkConformance``, ``check_source``
and ``check_sink``; ``sf1630.testing.pytest_plugin`` holds fixtures. Both need pytest, which
the agent itself does not, so nothing is imported here.
"""
