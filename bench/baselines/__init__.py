"""Handlers the benchmark compares ours with; loaded by file in a clean process, like ours."""
