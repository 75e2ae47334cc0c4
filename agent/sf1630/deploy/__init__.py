"""`sf1630 deploy`: install, upgrade and roll back the executable on hosts over SSH (issue #10).

``inventory`` reads the hosts, ``remote`` is one fabric connection, ``steps`` and ``change`` are the
remote steps, ``runner`` runs them on many hosts with a bound, ``report`` shows the outcome.
"""
