"""A cloud worker: any number of them drain one shared job queue."""
