"""`offload`: the command-line client of the HTTP API (submit, status, fetch, nodes)."""
