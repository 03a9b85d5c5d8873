"""harness/diagnose"""
