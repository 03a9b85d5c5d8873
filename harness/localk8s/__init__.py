"""harness/localk8s"""
