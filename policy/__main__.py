"""`python -m policy`: train or evaluate the DQN."""

from policy.cli import main

main()
