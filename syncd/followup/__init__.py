"""Acting on flags: the planner (decide, then apply), free slots, the outbox, mailers."""
