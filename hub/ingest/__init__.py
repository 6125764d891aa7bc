"""The ingest pipeline: one small step per module, a submission flowing one way."""
