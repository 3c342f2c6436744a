"""Shared Lambda layer of the insurance agent API.

One module per concern: ``settings``, ``errors``, ``models``, ``domain`` (pure rules),
``ports`` (the interfaces the domain needs), ``upstream`` (the httpx client of the system of
record), ``audit`` (the psycopg writer), ``database`` (the per-container pool),
``operations`` (the three use cases), ``entry`` (Lambda entry point and event dispatch),
``web`` (the FastAPI apps behind Mangum) and ``observability`` (Powertools).
"""
