"""HTTP surfaces: the REST API, the SOAP endpoint, health and metrics."""
