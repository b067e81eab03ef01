//! Local discovery: two daemons on two hosts of one LAN find each other by mDNS, with no dial.
//!
//! The hosts are network namespaces on a bridge with 198.18.0.0/15 addresses, made by the test
//! and torn down after it, so no multicast reaches the machine's real interfaces. Needs root
//! (CAP_NET_ADMIN) and `ip` from iproute2, which `cargo xtask ci` installs.

use std::path::Path;

use switchboard_node::Repo;

use crate::support::{eventually, init_repo, start_daemon_with};
use switchboard_testkit::net::Lan;
use switchboard_testkit::require_root;

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
    require_root("building network namespaces");
    let tmp = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new();
    let a = start_daemon_with(
        &lan.exec(0, "libp2p_mdns=debug"),
        &lan_repo(tmp.path(), "a", 1),
        &[],
    );
    let b = start_daemon_with(
        &lan.exec(1, "libp2p_mdns=debug"),
        &lan_repo(tmp.path(), "b", 2),
        &[],
    );
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
