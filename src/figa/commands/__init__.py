"""One module per `figa` subcommand, each with `main(argv) -> int`."""
