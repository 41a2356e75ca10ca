"""An edge worker: close to users, its own job subject, modest capacity."""
