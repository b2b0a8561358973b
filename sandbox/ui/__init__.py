"""Static files of the sandbox UI (no build step)."""
