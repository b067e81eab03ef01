//! Local discovery: two daemons on two hosts of one LAN find each other by mDNS, with no dial.
//!
//! The hosts are network namespaces on a bridge with 198.18.0.0/15 addresses, made by the test
//! and torn down after it, so no multicast reaches the machine's real interfaces. Needs root
//! (CAP_NET_ADMIN) and `ip` from iproute2, which `cargo xtask ci` installs.

use std::path::Path;
use std::process::Command;

use switchboard_node::Repo;

use crate::support::{Daemon, eventually, init_repo};

/// Two namespaces on a bridge; removed on drop, also when the test fails.
struct Lan {
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

impl Lan {
    fn new() -> Self {
        let id = std::process::id() % 100_000;
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

    /// The command prefix that runs a program on host `i`, logging what mDNS does (to the
    /// test's stderr, for when discovery fails).
    fn exec(&self, i: usize) -> [&str; 6] {
        [
            "ip",
            "netns",
            "exec",
            &self.namespaces[i],
            "env",
            "RUST_LOG=libp2p_mdns=debug,switchboard_node=info",
        ]
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A test-profile repo with mDNS on, listening on its host's LAN address.
fn lan_repo(tmp: &Path, name: &str, host: u8) -> std::path::PathBuf {
    let dir = init_repo(tmp, name);
    let mut repo = Repo::open(&dir).expect("open");
    repo.update_config(|c| {
        c.discovery.mdns = true;
        c.addresses.swarm = vec![format!("/ip4/198.18.0.{host}/tcp/0").parse().expect("addr")];
    })
    .expect("config");
    dir
}

#[test]
fn daemons_on_one_lan_discover_each_other() {
    assert!(
        is_root(),
        "this test builds network namespaces and must run as root"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new();
    let a = Daemon::start_with(&lan.exec(0), &lan_repo(tmp.path(), "a", 1), &[]);
    let b = Daemon::start_with(&lan.exec(1), &lan_repo(tmp.path(), "b", 2), &[]);
    let (a_id, b_id) = (a.peer_id(), b.peer_id());
    for (daemon, other) in [(&a, &b_id), (&b, &a_id)] {
        eventually("mDNS discovery", || {
            let peers = daemon.run_ok(&["swarm", "peers"]);
            peers
                .lines()
                .any(|l| l.starts_with("/ip4/198.18.0.") && l.ends_with(&format!("/p2p/{other}")))
                .then_some(())
        });
    }
    a.stop();
    b.stop();
}
