"""Mutation testing of the chart, the images, the applications and the docs (``make mutate``).

``catalogue`` reads the seeded defects (``verification/mutants.yaml``); ``scratch`` makes the
copies they are applied to; ``runner`` checks each is valid and runs the tests that carry its IDs;
``report`` computes the score and writes ``reports/mutation.json`` (Stryker's report schema).
No pytest here: the runner drives pytest as a process.
"""
