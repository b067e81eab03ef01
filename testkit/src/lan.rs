//! Hosts on one LAN for tests: network namespaces on a bridge with 198.18.0.0/15 addresses,
//! made by the test and torn down after it, so nothing a test sends (mDNS, WebRTC's multicast
//! DNS) reaches the machine's real interfaces. Needs root (CAP_NET_ADMIN) and `ip` from
//! iproute2, which `cargo xtask ci` installs.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Two namespaces on a bridge; removed on drop, also when the test fails.
pub struct Lan {
    namespaces: [String; 2],
    bridge: String,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("`ip` (iproute2) is installed");
    assert!(status.success(), "ip {args:?} failed");
}

impl Default for Lan {
    fn default() -> Self {
        Self::new()
    }
}

impl Lan {
    /// Makes the namespaces, the bridge and the addresses.
    pub fn new() -> Self {
        // Unique per LAN, also between tests of one process running in parallel.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = std::process::id() % 1000 * 100 + NEXT.fetch_add(1, Ordering::Relaxed) % 100;
        let lan = Lan {
            namespaces: [format!("sb{id}a"), format!("sb{id}b")],
            bridge: format!("sbbr{id}"),
        };
        // Teardown runs even if setup fails halfway.
        ip(&["link", "add", &lan.bridge, "type", "bridge"]);
        ip(&["link", "set", &lan.bridge, "up"]);
        for (i, ns) in lan.namespaces.iter().enumerate() {
            let (veth, peer) = (format!("v{id}{i}"), format!("v{id}{i}br"));
            let addr = format!("198.18.0.{}/24", i + 1);
            ip(&["netns", "add", ns]);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &veth, "netns", ns]);
            ip(&["link", "set", &peer, "master", &lan.bridge]);
            ip(&["link", "set", &peer, "up"]);
            ip(&["-n", ns, "addr", "add", &addr, "dev", &veth]);
            ip(&["-n", ns, "link", "set", &veth, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            // Multicast needs a route, or sends fail with ENETUNREACH.
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", &veth]);
        }
        lan
    }

    /// The command prefix that runs a program on host `i` (198.18.0.`i + 1`), logging
    /// `log` (a `RUST_LOG` directive) and the node's info to the test's stderr, for when a
    /// test fails.
    pub fn exec(&self, i: usize, log: &str) -> Vec<String> {
        ["ip", "netns", "exec", &self.namespaces[i], "env"]
            .map(String::from)
            .into_iter()
            .chain([format!("RUST_LOG={log},switchboard_node=info")])
            .collect()
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

/// Whether the tests run as root, which namespaces need.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}
