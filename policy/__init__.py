"""Placement decisions: the cost model, baseline policies, and (later) DQN and PSO."""
