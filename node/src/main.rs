//! `switchboard`: the command line, shaped like Kubo's `ipfs`.

#[cfg(not(wasm_browser))]
mod cli;

#[cfg(not(wasm_browser))]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// A web page has no command line; the library is what runs there.
#[cfg(wasm_browser)]
fn main() {}
