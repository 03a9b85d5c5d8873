"""harness/testkit"""
