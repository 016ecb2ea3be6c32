"""The command lines of every tool."""
