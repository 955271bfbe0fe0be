"""Service-level deadlines.

- `policy`: the rules as plain Python (no database): which rule applies, when each clock is due.
- `clocks`: the `sla_clocks` rows of an order: started at intake, stopped by lifecycle moves,
  and the admin's rules.
- `sweep`: marks warnings, breaches and escalations exactly once, however often it runs.
"""
