"""Operator commands over the audit trail (`python -m ops --help`)."""
