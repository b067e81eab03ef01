//! Circuit relay v2 through the command line: `daemon --profile relay`, a daemon reserving on
//! it from its config, another reaching it through the relay; and hole punching between two
//! daemons behind NATs (network namespaces with nftables routers), over TCP and over QUIC.

use std::path::Path;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use switchboard_node::Repo;
use switchboard_node::transport::is_relayed;
use switchboard_testkit::net::Nat;
use switchboard_testkit::{Daemon, eventually, require_root};

use crate::support::{init_repo, start_daemon, start_daemon_with};

/// The daemon's listen address through `relay` (the relay's address with its `/p2p`), once
/// its reservation is accepted, with `/p2p`. The relay names each of its addresses in the
/// reservation, so there is one through each.
fn reservation(daemon: &Daemon, relay: &Multiaddr) -> Multiaddr {
    eventually("a reservation on the relay", || {
        daemon
            .run_ok(&["swarm", "addrs", "local", "--id"])
            .lines()
            .map(|l| l.parse::<Multiaddr>().expect("a multiaddr per line"))
            .find(|a| is_relayed(a) && a.iter().take(relay.iter().count()).eq(relay.iter()))
    })
}

/// `swarm peers` of `daemon`: each peer's address, with its `/p2p`.
fn peers(daemon: &Daemon) -> Vec<Multiaddr> {
    daemon
        .run_ok(&["swarm", "peers"])
        .lines()
        .map(|l| l.parse().expect("a multiaddr per line"))
        .collect()
}

fn ends_with_peer(addr: &Multiaddr, peer: &str) -> bool {
    matches!(addr.iter().last(), Some(Protocol::P2p(p)) if p.to_string() == peer)
}

/// Puts `data` through `daemon`; the CID.
fn put(daemon: &Daemon, data: &[u8]) -> String {
    daemon.put(data).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn a_daemon_reserves_on_a_relay_and_is_reached_through_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let relay = start_daemon(&init_repo(tmp.path(), "relay"), &["--profile", "relay"]);
    let relay_tcp = relay.addr("tcp");
    let resources = relay.run_ok(&["swarm", "resources"]);
    assert!(resources.contains("relay"), "{resources}");

    // The hidden daemon reserves from its config, as an operator sets it up.
    let hidden_repo = init_repo(tmp.path(), "hidden");
    set_swarm(
        &hidden_repo,
        &[relay_tcp.clone().with(Protocol::P2pCircuit)],
    );
    let hidden = start_daemon(&hidden_repo, &[]);
    let reachable = reservation(&hidden, &relay_tcp);
    let cid = put(&hidden, b"through the relay");

    let dialer = start_daemon(&init_repo(tmp.path(), "dialer"), &[]);
    let connected = dialer.run_ok(&["swarm", "connect", &reachable.to_string()]);
    assert!(connected.contains("success"), "{connected}");
    let through = peers(&dialer);
    assert!(
        through
            .iter()
            .any(|a| is_relayed(a) && ends_with_peer(a, &hidden.peer_id())),
        "{through:?}"
    );
    let data = dialer.run_ok(&["block", "get", &cid, "--timeout", "20s"]);
    assert_eq!(data, "through the relay");
}

/// Replaces the repo's swarm addresses.
fn set_swarm(repo: &Path, addrs: &[Multiaddr]) {
    Repo::open(repo)
        .expect("open")
        .update_config(|c| c.addresses.swarm = addrs.to_vec())
        .expect("config");
}

/// Two daemons, each behind a NAT that drops what the outside starts, connect through a relay
/// on the public side and upgrade to a direct connection by hole punching (DCUtR over TCP, from
/// their listening ports); a block larger than a circuit carries (128 KiB) then moves, which
/// only a direct connection can do.
#[test]
fn daemons_behind_nats_connect_through_a_relay_and_punch_a_hole() {
    punch_a_hole(|ip| format!("/ip4/{ip}/tcp/4001"));
}

/// The same over QUIC: every connection, the relay's included, goes over UDP from the
/// listening port, and the hole is punched by both sides' packets crossing.
#[test]
fn daemons_behind_nats_punch_a_hole_over_quic() {
    punch_a_hole(|ip| format!("/ip4/{ip}/udp/4001/quic-v1"));
}

/// The hole-punching scenario with every node listening at `listen(its IP)`.
fn punch_a_hole(listen: fn(&str) -> String) {
    require_root("building network namespaces and NAT routers");
    let tmp = tempfile::tempdir().expect("tempdir");
    let nat = Nat::new();
    let log = "libp2p_dcutr=debug,libp2p_relay=debug";
    let exec = |ns: &switchboard_testkit::net::Namespace| {
        let mut prefix = ns.prefix();
        prefix.extend([
            "env".into(),
            format!("RUST_LOG={log},switchboard_node=info"),
        ]);
        prefix
    };

    let relay_repo = init_repo(tmp.path(), "relay");
    let relay_listen = listen(Nat::PUBLIC);
    set_swarm(&relay_repo, &[relay_listen.parse().expect("addr")]);
    let relay = start_daemon_with(&exec(nat.public()), &relay_repo, &["--profile", "relay"]);
    let relay_addr: Multiaddr = format!("{relay_listen}/p2p/{}", relay.peer_id())
        .parse()
        .expect("addr");

    // Behind router 1: listens on its LAN address and through the relay.
    let hidden_repo = init_repo(tmp.path(), "hidden");
    set_swarm(
        &hidden_repo,
        &[
            listen("198.19.2.2").parse().expect("addr"),
            relay_addr.clone().with(Protocol::P2pCircuit),
        ],
    );
    let hidden = start_daemon_with(&exec(nat.host(1)), &hidden_repo, &[]);
    let reachable = reservation(&hidden, &relay_addr);
    let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let file = tmp.path().join("big");
    std::fs::write(&file, &big).expect("write");
    let cid = hidden
        .run_ok(&["block", "put", file.to_str().expect("utf-8 path")])
        .trim()
        .to_owned();

    // Behind router 0: knows the relay first (so identify tells it its public address), then
    // dials the hidden daemon through it.
    let dialer_repo = init_repo(tmp.path(), "dialer");
    set_swarm(&dialer_repo, &[listen("198.19.1.2").parse().expect("addr")]);
    let dialer = start_daemon_with(&exec(nat.host(0)), &dialer_repo, &[]);
    dialer.run_ok(&["swarm", "connect", &relay_addr.to_string()]);
    dialer.run_ok(&["swarm", "connect", &reachable.to_string()]);

    let hidden_id = hidden.peer_id();
    let direct = eventually("a direct connection by hole punching", || {
        peers(&dialer)
            .into_iter()
            .find(|a| !is_relayed(a) && ends_with_peer(a, &hidden_id))
    });
    // Router 1 keeps the hidden daemon's port when it maps it.
    let mapped = listen("198.18.1.3");
    assert!(
        direct.to_string().starts_with(&mapped),
        "the hidden daemon's public mapping ({mapped}): {direct}"
    );
    let fetched = dialer
        .exec(&["block", "get", &cid, "--timeout", "20s"], b"")
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(fetched == big, "1 MiB over the direct connection");
}
