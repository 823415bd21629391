"""The web interface: pages, the versioned JSON API, live updates, security."""
