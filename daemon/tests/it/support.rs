//! The binary under test, and shorthands for driving it.

use std::path::{Path, PathBuf};

use switchboard_testkit::Switchboard;
pub(crate) use switchboard_testkit::{
    DEADLINE, Daemon, api_port, eventually, http_request, http_status,
};

/// The `switchboard` binary this crate builds.
pub(crate) fn switchboard() -> Switchboard {
    Switchboard::new(bin())
}

/// Its path.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// See [`Switchboard::run_ok`].
pub(crate) fn run_ok(repo: &Path, args: &[&str]) -> String {
    switchboard().run_ok(repo, args)
}

/// See [`Switchboard::run_err`].
pub(crate) fn run_err(repo: &Path, args: &[&str]) -> String {
    switchboard().run_err(repo, args)
}

/// See [`Switchboard::run_with_stdin`].
pub(crate) fn run_with_stdin(repo: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    switchboard().run_with_stdin(repo, args, input)
}

/// See [`Switchboard::init_repo`].
pub(crate) fn init_repo(tmp: &Path, name: &str) -> PathBuf {
    switchboard().init_repo(tmp, name)
}

/// See [`Switchboard::daemon`].
pub(crate) fn start_daemon(repo: &Path, args: &[&str]) -> Daemon {
    switchboard().daemon(repo, args)
}

/// See [`Switchboard::daemon_with`].
pub(crate) fn start_daemon_with(prefix: &[String], repo: &Path, args: &[&str]) -> Daemon {
    switchboard().daemon_with(prefix, repo, args)
}
