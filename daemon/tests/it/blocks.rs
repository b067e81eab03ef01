//! Blocks through the command line: `block put` on one daemon, `block get` on another, and puts killed midway.

use switchboard_daemon::api::Client;
use switchboard_node::exchange::{Block, Codec, Hash};

use crate::support::{init_repo, run_err, run_ok, run_with_stdin, start_daemon};

/// The seed scenario through the command line: `block put` on daemon A, `swarm connect`,
/// `block get` on daemon B returns the same bytes.
#[test]
fn block_put_on_one_daemon_get_on_another() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo_a, repo_b) = (init_repo(tmp.path(), "a"), init_repo(tmp.path(), "b"));
    let a = start_daemon(&repo_a, &[]);
    let b = start_daemon(&repo_b, &[]);
    let cid = String::from_utf8(run_with_stdin(
        &repo_a,
        &["block", "put"],
        b"here is some data",
    ))
    .expect("utf-8");
    assert_eq!(
        cid.trim(),
        "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4"
    );
    run_ok(&repo_b, &["swarm", "connect", &a.addr("tcp").to_string()]);
    let data = run_with_stdin(
        &repo_b,
        &["block", "get", cid.trim(), "--timeout", "20s"],
        b"",
    );
    assert_eq!(data, b"here is some data");
    assert_eq!(
        run_ok(&repo_b, &["block", "stat", cid.trim()]),
        format!("Key: {}\nSize: 17\n", cid.trim())
    );
    let stat = run_ok(&repo_b, &["bitswap", "stat"]);
    assert!(
        stat.contains("\tblocks received: 1\n") && stat.contains("\tdata received: 17\n"),
        "{stat}"
    );
    let stat: serde_json::Value =
        serde_json::from_str(&run_ok(&repo_b, &["bitswap", "stat", "--json"])).expect("json");
    assert_eq!(stat["BlocksReceived"], 1);
    assert_eq!(stat["Peers"][0], a.peer_id());

    // Other codecs and hashes, as Kubo's flags name them.
    let cbor = run_with_stdin(
        &repo_a,
        &[
            "block",
            "put",
            "--cid-codec",
            "dag-cbor",
            "--mhtype",
            "blake3",
        ],
        b"\xa0",
    );
    let cbor = String::from_utf8(cbor).expect("utf-8");
    let expected = Block::encode(Codec::DagCbor, Hash::Blake3, &b"\xa0"[..]).expect("block");
    assert_eq!(cbor.trim(), expected.cid().to_string());
    assert_eq!(
        run_with_stdin(&repo_b, &["block", "get", cbor.trim()], b""),
        b"\xa0"
    );

    let err = run_err(
        &repo_b,
        &[
            "block",
            "get",
            "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "--timeout",
            "300ms",
        ],
    );
    assert!(err.contains("not found within 300ms"), "{err}");
    let err = run_err(&repo_b, &["block", "get", "not-a-cid"]);
    assert!(err.contains("not-a-cid"), "{err}");
    drop(b);
}

#[test]
fn blocks_work_on_the_repo_without_a_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");
    let cid = String::from_utf8(run_with_stdin(&repo, &["block", "put", "-"], b"offline"))
        .expect("utf-8");
    let cid = cid.trim();
    assert_eq!(
        run_with_stdin(&repo, &["block", "get", cid], b""),
        b"offline"
    );
    assert_eq!(
        run_ok(&repo, &["block", "stat", cid]),
        format!("Key: {cid}\nSize: 7\n")
    );
    assert_eq!(
        run_ok(&repo, &["block", "rm", cid]),
        format!("removed {cid}\n")
    );
    let err = run_err(&repo, &["block", "get", cid]);
    assert!(err.contains("not in the repo"), "{err}");
    let big = vec![0u8; 2 * 1024 * 1024 + 1];
    let path = tmp.path().join("big");
    std::fs::write(&path, &big).expect("write");
    let err = run_err(&repo, &["block", "put", path.to_str().expect("utf-8 path")]);
    assert!(err.contains("over the 2 MiB limit"), "{err}");
}

/// A daemon killed with SIGKILL in the middle of a stream of `block put`s restarts with
/// every block whose put was acknowledged.
#[test]
fn acknowledged_blocks_survive_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init_repo(tmp.path(), "a");
    let daemon = start_daemon(&repo, &[]);
    let client = Client::for_repo(&repo).expect("client");
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let putter = std::thread::spawn({
        let acknowledged = acknowledged.clone();
        move || {
            for i in 0u32.. {
                let mut data = vec![0u8; 64 * 1024];
                data[..4].copy_from_slice(&i.to_le_bytes());
                match client.block_put(data, "raw", "sha2-256") {
                    Ok(stat) => acknowledged.lock().expect("lock").push(stat.key),
                    Err(_) => return,
                }
            }
        }
    });
    // Kill while puts keep coming, once some have been acknowledged.
    crate::support::eventually("20 acknowledged puts", || {
        (acknowledged.lock().expect("lock").len() >= 20).then_some(())
    });
    daemon.kill();
    putter.join().expect("putter");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    // The repo opens again (no daemon: the api file is stale) and holds every block.
    std::fs::remove_file(repo.join("api")).expect("stale api file");
    for cid in &acknowledged {
        let stat = run_ok(&repo, &["block", "stat", cid]);
        assert!(stat.contains("Size: 65536"), "{cid}: {stat}");
    }
}
