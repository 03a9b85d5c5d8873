"""The verification harness: tiers of tests that prove the specification."""
