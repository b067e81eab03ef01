//! WebRTC-direct between daemons on two hosts of a LAN (network namespaces: webrtc-rs joins
//! the multicast-DNS group for every connection, which must not happen on real interfaces).

use std::path::{Path, PathBuf};

use libp2p::multiaddr::Protocol;
use switchboard_node::Repo;

use crate::lan::{Lan, is_root};
use crate::support::{Daemon, init_repo};

/// A test-profile repo listening on WebRTC-direct at its host's LAN address (a native node
/// dials WebRTC-direct from its listening socket, so the dialer listens too).
fn webrtc_repo(tmp: &Path, name: &str, host: u8) -> PathBuf {
    let dir = init_repo(tmp, name);
    let mut repo = Repo::open(&dir).expect("open");
    repo.update_config(|c| {
        c.addresses.swarm = vec![
            format!("/ip4/198.18.0.{host}/udp/0/webrtc-direct")
                .parse()
                .expect("addr"),
        ];
    })
    .expect("config");
    dir
}

#[test]
fn daemons_connect_over_webrtc_direct_and_move_a_block() {
    assert!(
        is_root(),
        "this test builds network namespaces and must run as root"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new();
    let log = "webrtc=warn,webrtc_ice=error,webrtc_sctp=error";
    let a = Daemon::start_with(&lan.exec(0, log), &webrtc_repo(tmp.path(), "a", 1), &[]);
    let b = Daemon::start_with(&lan.exec(1, log), &webrtc_repo(tmp.path(), "b", 2), &[]);

    let target = a.addr("webrtc-direct");
    assert!(
        target.iter().any(|p| matches!(p, Protocol::Certhash(_))),
        "the address authenticates the listener: {target}"
    );
    let connected = b.run_ok(&["swarm", "connect", &target.to_string()]);
    assert!(connected.contains("success"), "{connected}");

    let file = tmp.path().join("block");
    std::fs::write(&file, "over webrtc-direct").expect("write");
    let cid = a.run_ok(&["block", "put", file.to_str().expect("utf-8 path")]);
    let cid = cid.trim();
    let fetched = b.run_ok(&["block", "get", cid, "--timeout", "20s"]);
    assert_eq!(fetched, "over webrtc-direct");
    a.stop();
    b.stop();
}
