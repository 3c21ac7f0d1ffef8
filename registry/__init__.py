"""The modelog registry core: events, commands, the Model aggregate and the event store.

This package is the centre of the dependency graph: it imports nothing from
``projections``, ``sdk`` or ``cli``. Importing it is cheap; the submodules
(``registry.store``, ``registry.service``, ...) pull in SQLAlchemy and pydantic
only when used.
"""
