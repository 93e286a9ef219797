"""Google Directory and Cloud Identity: Google's documented examples against the emulator."""
