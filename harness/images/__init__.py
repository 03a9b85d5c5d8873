"""harness/images"""
