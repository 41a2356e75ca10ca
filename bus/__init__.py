"""The message bus: NATS connection, JetStream layout, schemas, stores, worker loop."""
