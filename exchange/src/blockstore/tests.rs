use super::*;
use crate::{Codec, Hash};

fn block(data: &[u8]) -> Block {
    Block::encode(Codec::Raw, Hash::Sha2_256, data.to_vec()).expect("block")
}

fn exercise(store: &dyn Blockstore) {
    let a = block(b"a");
    assert_eq!(store.get(a.cid()).expect("get"), None);
    assert!(!store.has(a.cid()).expect("has"));
    store.put(&a).expect("put");
    assert_eq!(store.get(a.cid()).expect("get"), Some(a.clone()));
    assert_eq!(store.size(a.cid()).expect("size"), Some(1));
    // The same digest under another codec shares the stored bytes.
    let as_cbor = Cid::new_v1(0x71, *a.cid().hash());
    assert!(store.has(&as_cbor).expect("has"));
    let read = store.get(&as_cbor).expect("get").expect("stored");
    assert_eq!((read.cid(), read.data()), (&as_cbor, a.data()));
    let many = [block(b"x"), block(b"y")];
    store.put_many(&many).expect("put many");
    assert!(many.iter().all(|b| store.has(b.cid()).expect("has")));
    assert!(store.remove(a.cid()).expect("remove"));
    assert!(!store.remove(a.cid()).expect("remove again"));
    assert_eq!(store.get(a.cid()).expect("get"), None);
}

#[test]
fn memory_blockstore_behaves() {
    exercise(&MemoryBlockstore::new());
}

#[test]
fn redb_blockstore_behaves_and_persists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("blocks.redb");
    let b = block(b"kept");
    {
        let store = RedbBlockstore::open(&path).expect("open");
        exercise(&store);
        store.put(&b).expect("put");
    }
    let store = RedbBlockstore::open(&path).expect("reopen");
    assert_eq!(store.get(b.cid()).expect("get"), Some(b));
}

#[test]
fn flat_blockstore_behaves_and_persists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = block(b"kept");
    {
        let store = FlatBlockstore::open(dir.path()).expect("open");
        exercise(&store);
        store.put(&b).expect("put");
    }
    let store = FlatBlockstore::open(dir.path()).expect("reopen");
    assert_eq!(store.get(b.cid()).expect("get"), Some(b));
}

/// Kubo's empty directory (`QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn`) is at this path in
/// every Kubo repo; the flat store puts it at the same place.
#[test]
fn flat_blockstore_lays_blocks_out_as_kubo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FlatBlockstore::open(dir.path()).expect("open");
    let empty_dir = Block::verify(
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
            .parse()
            .expect("cid"),
        &[0x0a, 0x02, 0x08, 0x01][..],
    )
    .expect("the empty directory");
    store.put(&empty_dir).expect("put");
    let file = dir
        .path()
        .join("X3/CIQFTFEEHEDF6KLBT32BFAGLXEZL4UWFNWM4LFTLMXQBCERZ6CMLX3Y.data");
    assert_eq!(
        std::fs::read(file).expect("Kubo's path"),
        [0x0a, 0x02, 0x08, 0x01]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("SHARDING")).expect("SHARDING"),
        "/repo/flatfs/shard/v1/next-to-last/2\n"
    );
}

#[test]
fn flat_blockstore_reports_tampered_blocks_and_other_shardings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FlatBlockstore::open(dir.path()).expect("open");
    let b = block(b"original");
    store.put(&b).expect("put");
    let file = std::fs::read_dir(dir.path())
        .expect("root")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .flat_map(|shard| std::fs::read_dir(shard.path()).expect("shard"))
        .filter_map(Result::ok)
        .next()
        .expect("the block's file")
        .path();
    std::fs::write(&file, b"tampered").expect("tamper");
    assert!(matches!(store.get(b.cid()), Err(StoreError::Corrupt(c)) if c == *b.cid()));

    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        other.path().join("SHARDING"),
        "/repo/flatfs/shard/v1/prefix/2\n",
    )
    .expect("write");
    let err = FlatBlockstore::open(other.path()).expect_err("other sharding");
    assert!(err.to_string().contains("prefix/2"), "{err}");
}

/// A put killed between writing its temporary file and renaming it leaves the file behind; the
/// next open removes such leftovers once they are old enough to belong to no live put.
#[test]
fn flat_blockstore_removes_what_a_killed_put_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FlatBlockstore::open(dir.path()).expect("open");
    store.put(&block(b"kept")).expect("put");
    let shard = dir.path().join("AB");
    std::fs::create_dir_all(&shard).expect("shard");
    let old = shard.join(".put-killed");
    let young = shard.join(".put-writing");
    std::fs::write(&old, b"half a block").expect("write");
    std::fs::write(&young, b"being written").expect("write");
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(long_ago))
        .expect("age the leftover");
    drop(store);
    let store = FlatBlockstore::open(dir.path()).expect("reopen");
    assert!(!old.exists(), "a crash's leftover stayed");
    assert!(young.exists(), "a live put's file was removed");
    assert!(store.has(block(b"kept").cid()).expect("has"));
}
