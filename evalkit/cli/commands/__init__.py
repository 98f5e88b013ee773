"""One module per `evalkit` subcommand, each with `register(subparsers)`."""
