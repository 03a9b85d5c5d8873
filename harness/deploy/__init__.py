"""harness/deploy"""
