"""Helpers shared by the test suites and bench/: one webhook capture server (`capture`) and one
webhook signer written from the vendors' documentation (`signing`)."""
