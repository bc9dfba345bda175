"""Review workflow: intake, decisions, queries, second review, audit log and KPIs over the store."""
