"""Safety-task compliance: task rules, a pure engine, the tick that applies it, and the
compliance time series (issue 5). See docs/compliance.md."""
