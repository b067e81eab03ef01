//! WebRTC-direct between daemons on two hosts of a LAN (network namespaces: webrtc-rs joins
//! the multicast-DNS group for every connection, which must not happen on real interfaces).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use switchboard_node::Repo;

use crate::support::{init_repo, start_daemon_with};
use switchboard_testkit::net::Lan;
use switchboard_testkit::require_root;

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
        // The test suite runs this next to every other test on two cores; a WebRTC handshake
        // (ICE, DTLS, SCTP, noise) in a debug build can then take longer than the default.
        c.limits.dial_timeout_secs = 30;
    })
    .expect("config");
    dir
}

#[test]
fn daemons_connect_over_webrtc_direct_move_a_block_and_notice_a_crash() {
    require_root("building network namespaces");
    let tmp = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new();
    let log = "webrtc=warn,webrtc_ice=error,webrtc_sctp=error";
    let a = start_daemon_with(&lan.exec(0, log), &webrtc_repo(tmp.path(), "a", 1), &[]);
    let b = start_daemon_with(&lan.exec(1, log), &webrtc_repo(tmp.path(), "b", 2), &[]);

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

/// A STUN binding request (the first packet of a WebRTC-direct dial) for ufrag `ufrag`, with
/// no integrity: enough for the listener to start an upgrade for it.
fn stun_request(ufrag: &str) -> Vec<u8> {
    let username = format!("{ufrag}:{ufrag}");
    let padded = username.len().div_ceil(4) * 4;
    let mut packet = vec![0x00, 0x01];
    packet.extend_from_slice(&((4 + padded) as u16).to_be_bytes());
    packet.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    packet.extend_from_slice(&[7; 12]);
    packet.extend_from_slice(&0x0006u16.to_be_bytes());
    packet.extend_from_slice(&(username.len() as u16).to_be_bytes());
    packet.extend_from_slice(username.as_bytes());
    packet.resize(20 + 4 + padded, 0);
    packet
}

/// Peers that send one STUN request each and fall silent start upgrades that hold pending
/// connections; each ends at the upgrade timeout (here 1 s), not when webrtc-rs gives up on ICE
/// (about 9 s), and a peer that answered ICE and then fell silent in DTLS or noise would have
/// held its slot for ever: silent peers cannot fill the pending slots.
#[test]
fn silent_webrtc_peers_do_not_hold_pending_connections() {
    require_root("building network namespaces");
    let tmp = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new();
    let dir = webrtc_repo(tmp.path(), "a", 1);
    Repo::open(&dir)
        .expect("open")
        .update_config(|c| c.limits.upgrade_timeout_secs = 1)
        .expect("config");
    let log = "webrtc=error,webrtc_ice=error,webrtc_sctp=error";
    let a = start_daemon_with(&lan.exec(0, log), &dir, &[]);
    let port = a
        .addr("webrtc-direct")
        .iter()
        .find_map(|p| match p {
            Protocol::Udp(port) => Some(port),
            _ => None,
        })
        .expect("udp port");
    // Eight silent "peers" on host B, one source port each.
    let packets: Vec<String> = (0..8)
        .map(|i| {
            stun_request(&format!(
                "libp2p+webrtc+v1/silent{i:02}abcdefghijklmnopqrstuv"
            ))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
        })
        .collect();
    let script = format!(
        "import socket\nfor p in {packets:?}:\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.sendto(bytes.fromhex(p), ('198.18.0.1', {port}))\n"
    );
    let mut send = lan.exec(1, "off");
    send.extend(["python3".into(), "-c".into(), script]);
    let status = std::process::Command::new(&send[0])
        .args(&send[1..])
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let pending = || -> u64 {
        let json: serde_json::Value =
            serde_json::from_str(&a.run_ok(&["swarm", "resources", "--json"])).expect("json");
        json["Rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["Scope"] == "system" && r["Resource"] == "pending-inbound")
            .and_then(|r| r["Usage"].as_u64())
            .expect("pending-inbound")
    };
    let started = Instant::now();
    while pending() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no upgrade started"
        );
        std::thread::park_timeout(Duration::from_millis(50));
    }
    // Well under webrtc-rs' own ICE failure, well over the timeout.
    while pending() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "silent peers still hold {} pending connections",
            pending()
        );
        std::thread::park_timeout(Duration::from_millis(200));
    }
}
