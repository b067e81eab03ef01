//! A CID and bytes as a peer or client names them: checking and verifying never panic, and a
//! block that verifies hashes to its CID under a supported codec and hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_exchange::{Block, Cid, check_cid};

fuzz_target!(|data: &[u8]| {
    let split = data
        .first()
        .map_or(0, |n| *n as usize)
        .min(data.len().saturating_sub(1));
    let (cid_bytes, block) = data
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(data.len().saturating_sub(1)));
    if let Ok(text) = std::str::from_utf8(cid_bytes) {
        if let Ok(cid) = text.parse::<Cid>() {
            let _ = check_cid(&cid);
        }
    }
    let Ok(cid) = Cid::try_from(cid_bytes) else {
        return;
    };
    let checked = check_cid(&cid);
    if let Ok(verified) = Block::verify(cid, block.to_vec()) {
        assert!(
            checked.is_ok(),
            "a block verified under a CID that does not check"
        );
        assert_eq!(verified.data().as_ref(), block);
    }
});
