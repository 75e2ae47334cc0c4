"""The performance benchmark of issue #9: ``python -m bench`` (``--help`` for the parts and sizes).

It starts OpenSSH's sshd on a free loopback port and the project's platform simulator, measures
the clients side by side in one run, and writes ``docs/PERFORMANCE.md`` with PNG plots in
``docs/img/``. Nothing here is imported by the agent.
"""
