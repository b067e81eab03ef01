//! A network namespace for a CI step: a veth pair with both ends inside (198.18.7.1/24), a
//! default route through an address nobody has, loopback up. Whatever runs in it — mDNS,
//! webrtc-rs' multicast DNS, Chromium gathering ICE candidates (it needs a default route) —
//! stays off the machine's real interfaces. Removed when dropped.

use std::process::Command;

use crate::exec;

/// The namespace's address, on its veth interface.
pub(crate) const HOST: &str = "198.18.7.1";
/// Set (to the namespace's name) for programs run in a [`Namespace`].
pub(crate) const INSIDE: &str = "SWITCHBOARD_NETNS";

pub(crate) struct Namespace {
    name: String,
}

impl Namespace {
    pub(crate) fn create(purpose: &str) -> anyhow::Result<Self> {
        let namespace = Self {
            name: format!("sb{purpose}{}", std::process::id() % 100_000),
        };
        let ns = namespace.name.as_str();
        let ip = |args: &[&str]| exec(Command::new("ip").args(args));
        ip(&["netns", "add", ns])?;
        // From here on, a failure still removes the namespace (drop).
        ip(&[
            "-n", ns, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1",
        ])?;
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{HOST}/24"),
            "dev",
            "lan0",
        ])?;
        for link in ["lan0", "lan1", "lo"] {
            ip(&["-n", ns, "link", "set", link, "up"])?;
        }
        ip(&["-n", ns, "route", "add", "default", "via", "198.18.7.254"])?;
        ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", "lan0"])?;
        Ok(namespace)
    }

    /// `program` run inside the namespace. Cargo is told it is offline there: a crate it
    /// would fetch is an error at once, not a wait on an unreachable registry.
    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name])
            .arg(program)
            .env(INSIDE, &self.name)
            .env("CARGO_NET_OFFLINE", "true");
        command
    }

    /// Whether this process runs in a [`Namespace`].
    pub(crate) fn inside() -> bool {
        std::env::var_os(INSIDE).is_some()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
