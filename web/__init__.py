"""The web service: uploads, scheduling, task and node queries, downloads, the page."""
