"""The web UI: server-rendered pages over the registry's use cases, served by ``modelog server`` under ``/ui``.

An adapter like the CLI and the JSON API: each page parses its request, calls one use case of
:mod:`modelog.application.pages` (or a command of the service API) as the signed-in principal,
and renders the typed answer as HTML, or as JSON for its twin (``.json`` or ``Accept:
application/json``). See docs/ui.md.
"""
