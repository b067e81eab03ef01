//! The RPC API facing a careless or hostile client: whatever the query says, the answer is a
//! clear error or a bounded stream, and the daemon keeps serving.

use std::io::{BufRead as _, BufReader};

use crate::support::{api_port, http_request, http_status, init_repo, start_daemon};

fn post(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// `count=4294967295` once made the daemon allocate 64 GiB up front and abort. The pings now
/// come back as they happen; the client reads a few and hangs up, which ends them.
#[test]
fn a_ping_of_any_count_streams_and_the_daemon_lives() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let b = start_daemon(&init_repo(tmp.path(), "b"), &[]);
    a.run_ok(&["swarm", "connect", &b.addr("tcp").to_string()]);
    let port = api_port(&a.repo);
    let path = format!("/api/v0/ping?arg={}&count=4294967295", b.peer_id());
    let mut answer = BufReader::new(http_request(port, &post(&path)));
    let mut pings = 0;
    let mut line = String::new();
    while pings < 5 {
        line.clear();
        let read = answer.read_line(&mut line).expect("the answer streams");
        assert!(read > 0, "the answer ended after {pings} pings");
        if line.contains("\"Success\":true") && !line.contains("\"Time\":0") {
            pings += 1;
        }
    }
    drop(answer);
    // The daemon is alive and answers.
    assert_eq!(http_status(port, &post("/api/v0/id")), 200);
    assert!(a.run_ok(&["id"]).contains("\"ID\""));
}

/// A timeout whose parts each fit a duration but whose sum does not once panicked the handler,
/// and the client got no answer at all.
#[test]
fn an_overflowing_timeout_is_a_bad_request() {
    let tmp = tempfile::tempdir().expect("tmp");
    let daemon = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let port = api_port(&daemon.repo);
    let cid = "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4";
    let path =
        format!("/api/v0/block/get?arg={cid}&timeout=10000000000000000000s10000000000000000000s");
    assert_eq!(http_status(port, &post(&path)), 400);
    assert_eq!(http_status(port, &post("/api/v0/id")), 200);
}

/// `bafkreaa` (sha2-256 with an empty digest) names no block: refused before anything is
/// wanted.
#[test]
fn a_cid_with_an_empty_digest_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let daemon = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let port = api_port(&daemon.repo);
    assert_eq!(
        http_status(port, &post("/api/v0/block/get?arg=bafkreaa&timeout=1s")),
        400
    );
    let stat: serde_json::Value =
        serde_json::from_str(&daemon.run_ok(&["bitswap", "stat", "--json"])).expect("json");
    assert_eq!(stat["Wantlist"], serde_json::json!([]), "{stat}");
}

/// A client that connects and sends nothing, or only part of its headers, is closed after the
/// header timeout (10 s) instead of holding its socket and task for ever.
#[test]
fn a_silent_client_is_closed() {
    use std::io::{Read as _, Write as _};
    let tmp = tempfile::tempdir().expect("tmp");
    let daemon = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let port = api_port(&daemon.repo);
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.write_all(b"POST /api/v0/id HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .expect("part of the headers");
    slow.set_read_timeout(Some(crate::support::DEADLINE))
        .expect("timeout");
    let mut buf = [0u8; 256];
    let read = slow.read(&mut buf);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_ok_and(|n| buf[..*n].starts_with(b"HTTP/1.1 408")),
        "the slow client was not closed: {read:?}"
    );
}

/// Sixty-four clients holding connections open are all the API serves at once: the next
/// connection is closed at once, and once they leave the API answers again.
#[test]
fn clients_are_bounded() {
    use std::io::Read as _;
    let tmp = tempfile::tempdir().expect("tmp");
    let daemon = start_daemon(&init_repo(tmp.path(), "a"), &[]);
    let port = api_port(&daemon.repo);
    let idle: Vec<_> = (0..64)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let mut over = http_request(port, &post("/api/v0/id"));
    over.set_read_timeout(Some(crate::support::DEADLINE))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = over.read_to_end(&mut answer);
    assert!(answer.is_empty(), "a client over the limit was served");
    drop(idle);
    crate::support::eventually("the API to answer again", || {
        (switchboard_testkit::try_http_status(port, &post("/api/v0/id")) == Some(200)).then_some(())
    });
}
