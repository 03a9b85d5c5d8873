"""harness/kube"""
