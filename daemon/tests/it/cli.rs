//! The `switchboard` binary as a person uses it: real daemons, real sockets, real processes.

use switchboard_node::Repo;

use crate::support::{api_port, eventually, http_status, init_repo, run_err, run_ok, start_daemon};

/// Two daemons on throwaway repos connect with `swarm connect` over each transport and list
/// each other in `swarm peers`.
#[test]
fn daemons_connect_over_every_transport() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo_a = init_repo(tmp.path(), "a");
    let a = start_daemon(&repo_a, &[]);
    let a_id = a.peer_id();
    for transport in ["tcp", "quic-v1", "ws", "wss"] {
        // A fresh dialer per transport, so each connection really uses that transport.
        let repo_b = init_repo(tmp.path(), &format!("b-{transport}"));
        {
            let mut repo = Repo::open(&repo_b).expect("open");
            repo.update_config(|c| c.websocket.trust.push(repo_a.join("tls/cert.pem")))
                .expect("trust");
        }
        let b = start_daemon(&repo_b, &[]);
        let b_id = b.peer_id();
        let addr = a.addr(transport);
        let out = run_ok(&repo_b, &["swarm", "connect", &addr.to_string()]);
        assert_eq!(
            out.trim(),
            format!("connect {a_id} success"),
            "over {transport}"
        );
        let peers_of_b = run_ok(&repo_b, &["swarm", "peers"]);
        assert!(
            peers_of_b
                .lines()
                .any(|l| l.ends_with(&format!("/p2p/{a_id}"))),
            "{transport}: {peers_of_b}"
        );
        eventually("A to list B", || {
            run_ok(&repo_a, &["swarm", "peers"])
                .lines()
                .any(|l| l.ends_with(&format!("/p2p/{b_id}")))
                .then_some(())
        });
        let ping = run_ok(&repo_b, &["ping", &a_id, "-n", "2"]);
        assert_eq!(
            ping.lines()
                .filter(|l| l.starts_with("Pong received: time="))
                .count(),
            2,
            "{ping}"
        );
        b.stop();
    }
}

#[test]
fn bad_dials_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo_a = init_repo(tmp.path(), "a");
    let repo_b = init_repo(tmp.path(), "b");
    let a = start_daemon(&repo_a, &[]);
    let b = start_daemon(&repo_b, &["--filter", "no-ws: deny ws"]);
    let tcp = a.addr("tcp");

    // A wrong /p2p peer id: the peer that answers is named.
    let wrong = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";
    let mut wrong_addr = tcp.clone();
    wrong_addr.pop();
    let err = run_err(
        &repo_b,
        &["swarm", "connect", &format!("{wrong_addr}/p2p/{wrong}")],
    );
    assert!(
        err.contains("wrong peer id") && err.contains(wrong) && err.contains(&a.peer_id()),
        "{err}"
    );

    // A malformed multiaddr is refused before anything is dialed.
    let err = run_err(&repo_b, &["swarm", "connect", "/ip4/127.0.0.1/tcpx/1"]);
    assert!(err.contains("/ip4/127.0.0.1/tcpx/1"), "{err}");

    // A filtered address names the rule.
    let err = run_err(&repo_b, &["swarm", "connect", &a.addr("ws").to_string()]);
    assert!(err.contains("denied by filter rule `no-ws`"), "{err}");

    // Nothing listening: a clear unreachable error, quickly.
    let err = run_err(&repo_b, &["swarm", "connect", "/ip4/127.0.0.1/tcp/1"]);
    assert!(err.contains("cannot reach /ip4/127.0.0.1/tcp/1"), "{err}");

    // A transport the daemon profile does not have.
    let err = run_err(
        &repo_b,
        &[
            "swarm",
            "connect",
            "/ip4/127.0.0.1/udp/1/quic-v1/webtransport",
        ],
    );
    assert!(err.contains("no transport dials"), "{err}");
    drop(b);
}

#[test]
fn peer_id_survives_restart_and_api_file_tracks_the_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");
    let err = run_err(&repo, &["id"]);
    assert!(err.contains("no switchboard daemon is running"), "{err}");

    let daemon = start_daemon(&repo, &[]);
    let first = daemon.peer_id();
    assert!(
        daemon
            .stdout
            .iter()
            .any(|l| l == &format!("Peer ID: {first}")),
        "{:?}",
        daemon.stdout
    );
    assert!(
        daemon
            .stdout
            .iter()
            .any(|l| l.starts_with("Swarm listening on /ip4/127.0.0.1/udp/"))
    );
    daemon.stop();
    assert!(
        !repo.join("api").exists(),
        "the api file goes with the daemon"
    );

    let again = start_daemon(&repo, &[]);
    assert_eq!(again.peer_id(), first);
    again.stop();
}

#[test]
fn repo_errors_are_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");

    let err = run_err(&repo, &["init"]);
    assert!(err.contains("already exists"), "{err}");

    let daemon = start_daemon(&repo, &[]);
    let err = run_err(&repo, &["daemon"]);
    assert!(err.contains("locked"), "{err}");

    // A port in use: the running daemon's TCP port.
    let other = init_repo(tmp.path(), "b");
    let taken = daemon.addr("tcp");
    let mut taken_addr = taken.clone();
    taken_addr.pop();
    let err = run_err(&other, &["daemon", "--listen", &taken_addr.to_string()]);
    assert!(
        err.contains("cannot listen on") && err.contains("in use"),
        "{err}"
    );

    // A listen address no transport of the daemon profile can take.
    let err = run_err(
        &other,
        &[
            "daemon",
            "--listen",
            "/ip4/127.0.0.1/udp/0/quic-v1/webtransport",
        ],
    );
    assert!(
        err.contains("no transport of the daemon profile listens on"),
        "{err}"
    );
    daemon.stop();

    std::fs::write(repo.join("config.toml"), "[addresses]\nswarm = 7\n").expect("write");
    let err = run_err(&repo, &["daemon"]);
    assert!(
        err.contains("invalid config") && err.contains("swarm"),
        "{err}"
    );

    let missing = tmp.path().join("missing");
    let err = run_err(&missing, &["daemon"]);
    assert!(err.contains("no repo at"), "{err}");
}

#[test]
fn api_refuses_cross_origin_requests_like_kubo() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");
    let _daemon = start_daemon(&repo, &[]);
    let api = api_port(&repo);
    let req = |extra: &str, method: &str| {
        format!(
            "{method} /api/v0/id HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    assert_eq!(http_status(api, &req("", "POST")), 200);
    assert_eq!(
        http_status(api, &req("Origin: http://127.0.0.1:PORT\r\n", "POST")),
        200
    );
    assert_eq!(
        http_status(api, &req("Origin: https://evil.example\r\n", "POST")),
        403
    );
    assert_eq!(
        http_status(api, &req("Referer: https://evil.example/page\r\n", "POST")),
        403
    );
    assert_eq!(
        http_status(api, &req("Sec-Fetch-Site: cross-site\r\n", "POST")),
        403
    );
    let rebinding =
        "POST /api/v0/id HTTP/1.1\r\nHost: evil.example:PORT\r\nConnection: close\r\n\r\n";
    assert_eq!(http_status(api, rebinding), 403);
    assert_eq!(http_status(api, &req("", "GET")), 405);
}

#[test]
fn shutdown_stops_the_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");
    let mut daemon = start_daemon(&repo, &[]);
    run_ok(&repo, &["shutdown"]);
    eventually("the daemon to exit", || daemon.exited());
    assert!(!repo.join("api").exists());
}

#[test]
fn swarm_resources_shows_limits_and_use() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let b = start_daemon(&init_repo(tmp.path(), "b"), &[]);
    a.run_ok(&["swarm", "connect", &b.addr("tcp").to_string()]);
    let json: serde_json::Value =
        serde_json::from_str(&a.run_ok(&["swarm", "resources", "--json"])).expect("JSON");
    let row = |scope: &str, resource: &str| {
        json["Rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["Scope"] == scope && r["Resource"] == resource)
            .unwrap_or_else(|| panic!("no {scope} {resource} row in {json}"))
            .clone()
    };
    let connections = row("system", "connections");
    assert_eq!(connections["Limit"], 1024);
    assert!(connections["Usage"].as_u64() >= Some(1), "{connections}");
    assert_eq!(row("protocol-peer:bitswap", "streams-inbound")["Limit"], 32);
    assert!(row("protocol:bitswap", "read-bytes")["Limit"].as_u64() > Some(0));
    let table = a.run_ok(&["swarm", "resources"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("system") && l.contains("1024")),
        "{table}"
    );
}
