"""Targets run functions: the embedded local emulator or AWS Lambda (DESIGN §6)."""
