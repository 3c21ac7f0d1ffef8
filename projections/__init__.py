"""Read models of the registry, rebuilt from the event log: live tables, rebuild, point-in-time queries.

Depends only on ``registry``; never on ``sdk`` or ``cli``.
"""
