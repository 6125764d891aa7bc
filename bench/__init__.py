"""`make bench`: throughput and latency of the hub's ingest, next to a bare endpoint."""
