"""Authentication, signatures, egress and the audit chain."""
