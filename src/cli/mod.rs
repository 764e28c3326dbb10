//! One module per subcommand. Each has an `Args` (clap) and a `run`.
