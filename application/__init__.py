"""The application layer: every use case of the registry behind one typed service API.

``modelog.application.api.RegistryAPI`` is the contract; ``modelog.application.local.connect()``
returns the in-process implementation for the configured registry. Adapters (the SDK's ``Client``,
the CLI, the server) call it and format what it returns; they never build commands or read tables.
"""
