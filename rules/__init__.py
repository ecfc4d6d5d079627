"""The rules engine and the built-in relationship playbook."""
