"""A minimal Django project tracking the cost of (pretend) LLM calls per customer."""
