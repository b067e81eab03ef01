//! `switchboard`: the command line, shaped like Kubo's `ipfs`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
