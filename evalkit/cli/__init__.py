"""The `evalkit` command: the parser (`main`), one module per subcommand (commands/), failure lines and exit codes."""
