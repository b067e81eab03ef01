//! WebRTC-direct between daemons on two hosts of a LAN (network namespaces: webrtc-rs joins
//! the multicast-DNS group for every connection, which must not happen on real interfaces).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use switchboard_node::Repo;

use crate::lan::{Lan, is_root};
use crate::support::{Daemon, init_repo};

/// How long a WebRTC peer may take to notice that the other side crashed: webrtc-rs calls ICE
/// disconnected after 5 s without packets and failed 25 s later.
const CRASH_NOTICED: Duration = Duration::from_secs(60);

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
fn daemons_connect_over_webrtc_direct_move_a_block_and_notice_a_crash() {
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

    // A crashed peer tells nothing; its WebRTC connection must still end (ICE consent fails
    // after ~30 s with webrtc-rs' defaults) rather than linger and swallow streams.
    let a_id = a.peer_id();
    let peers = b.run_ok(&["swarm", "peers"]);
    assert_eq!(
        peers.trim().matches("/p2p/").count(),
        1,
        "one peer, its id once: {peers}"
    );
    a.kill();
    let started = Instant::now();
    loop {
        let peers = b.run_ok(&["swarm", "peers"]);
        if !peers.contains(&a_id) {
            break;
        }
        assert!(
            started.elapsed() < CRASH_NOTICED,
            "the connection to a killed peer is still up after {CRASH_NOTICED:?}: {peers}"
        );
        std::thread::park_timeout(Duration::from_millis(500));
    }
    b.stop();
}
