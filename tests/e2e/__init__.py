"""End-to-end tests: the `syncd` CLI run as a subprocess, as a user would."""
