//! A network namespace for a CI step: an isolated host at 198.18.7.1/24 with a default route
//! through an address nobody has (testkit's `Namespace::isolated`). Whatever runs in it —
//! mDNS, webrtc-rs' multicast DNS, Chromium gathering ICE candidates (it needs a default
//! route) — stays off the machine's real interfaces. Removed when dropped.

use std::process::Command;

/// The namespace's address.
pub(crate) const HOST: &str = "198.18.7.1";
/// Set (to the namespace's name) for programs run in a [`Namespace`].
pub(crate) const INSIDE: &str = "SWITCHBOARD_NETNS";

pub(crate) struct Namespace(switchboard_testkit::net::Namespace);

impl Namespace {
    pub(crate) fn create(purpose: &str) -> anyhow::Result<Self> {
        switchboard_testkit::net::Namespace::isolated(
            purpose,
            &format!("{HOST}/24"),
            "198.18.7.254",
        )
        .map(Self)
    }

    /// `program` run inside the namespace. Cargo is told it is offline there: a crate it
    /// would fetch is an error at once, not a wait on an unreachable registry.
    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = self.0.command(program);
        command
            .env(INSIDE, self.0.name())
            .env("CARGO_NET_OFFLINE", "true");
        command
    }

    /// Whether this process runs in a [`Namespace`].
    pub(crate) fn inside() -> bool {
        std::env::var_os(INSIDE).is_some()
    }
}
