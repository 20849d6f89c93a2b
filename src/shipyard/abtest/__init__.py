"""A/B experiments between model versions: spec, statistics, bandit, report, controller."""
