"""harness/podrt"""
