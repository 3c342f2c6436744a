"""The HTTP door: one FastAPI app per function, served through Mangum."""
