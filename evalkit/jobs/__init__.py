"""The jobs the command line and the Python API run: jobs/<name>.py does what `evalkit <name>` asks (cli/commands/<name>.py only parses and prints)."""
