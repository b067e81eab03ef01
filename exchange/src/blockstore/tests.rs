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
