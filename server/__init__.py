"""The team server: an HTTP JSON API (Starlette on uvicorn) over the registry's service API."""
