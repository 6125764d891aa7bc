"""Delivery: the broker, the worker that hands deliveries to adapters, retries, the sweeper."""
