"""Delivery adapters: how the hub hands a message to a recipient's system."""
