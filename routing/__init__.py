"""The organisation directory and the router that turns a message into deliveries."""
