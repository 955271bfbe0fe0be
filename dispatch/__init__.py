"""Work orders: intake, lifecycle, SLA, callbacks and KPIs."""
