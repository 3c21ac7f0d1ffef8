"""The SQL recorder's private fast paths, kept in one place.

Raw driver statements (:mod:`.driver`), the paused cyclic collector of bulk passes (:mod:`.bulk`),
the fast JSON decoder (:mod:`.json_decode`), raw event rows (:mod:`.raw_events`, :mod:`.rows`) and
batched raw reads (:mod:`.batches`). Nothing outside ``registry`` and ``projections`` should need
them; they bypass SQLAlchemy's per-row work where it cost more than the SQL itself. The package
itself imports nothing, so a process that only decodes JSON (the import's checking process)
never loads SQLAlchemy.
"""
