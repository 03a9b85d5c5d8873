"""Library code shared by the tiers: waits, processes, databases, rendering."""
