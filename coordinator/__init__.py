"""The coordinator: places scheduled tasks, dispatches jobs, records outcomes."""
