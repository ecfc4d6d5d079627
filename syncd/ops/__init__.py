"""Operating syncd: ``syncd doctor``'s checks and the systemd / launchd service."""
