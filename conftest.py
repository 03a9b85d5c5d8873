"""Root fixtures: the verification plugin (tiers, requirement markers) and shared servers."""

pytest_plugins = ["verification.plugin", "verification.results", "verification.fixtures", "verification.cluster_session",
                  "pytester"]
