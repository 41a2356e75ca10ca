"""What edge and cloud nodes share: settings, the job handler, heartbeats."""
