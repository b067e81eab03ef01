use proptest::prelude::*;

use super::*;
use crate::{Codec, Hash};

fn block(data: &[u8], codec: Codec) -> Block {
    Block::encode(codec, Hash::Sha2_256, data.to_vec()).expect("block")
}

fn want(cid: Cid, want_type: WantType) -> Want {
    Want {
        cid,
        priority: 7,
        cancel: false,
        want_type,
        send_dont_have: true,
    }
}

#[test]
fn round_trips_on_1_2() {
    let a = block(b"a", Codec::Raw);
    let b = block(b"b", Codec::DagCbor);
    let message = Message {
        wants: vec![
            want(*a.cid(), WantType::Have),
            Want {
                cancel: true,
                ..want(*b.cid(), WantType::Block)
            },
        ],
        full: true,
        blocks: vec![a.clone(), b.clone()],
        presences: vec![(*a.cid(), Presence::Have), (*b.cid(), Presence::DontHave)],
        pending_bytes: 42,
    };
    assert_eq!(Message::decode(&message.encode(Version::V1_2)), Ok(message));
}

#[test]
fn older_versions_drop_what_they_cannot_say() {
    let v1 = block(b"raw", Codec::Raw);
    let message = Message {
        blocks: vec![v1.clone()],
        presences: vec![(*v1.cid(), Presence::Have)],
        ..Message::default()
    };
    let on_1_1 = Message::decode(&message.encode(Version::V1_1)).expect("decode");
    assert_eq!(on_1_1.blocks, vec![v1.clone()]);
    assert!(on_1_1.presences.is_empty());
    // 1.0 sends bare data, read back as CIDv0 (dag-pb, sha2-256): a CIDv1 raw block comes back
    // under another CID, which the receiver then finds it never wanted.
    let on_1_0 = Message::decode(&message.encode(Version::V1_0)).expect("decode");
    assert_eq!(on_1_0.blocks.len(), 1);
    assert_eq!(on_1_0.blocks[0].cid().version(), cid::Version::V0);
    assert_eq!(on_1_0.blocks[0].cid().hash(), v1.cid().hash());
}

#[test]
fn malformed_input_is_a_typed_error() {
    assert!(matches!(
        Message::decode(&[0xff, 0xff, 0xff]),
        Err(DecodeError::Protobuf(_))
    ));
    assert_eq!(
        Message::decode(&vec![0u8; MAX_MESSAGE_SIZE + 1]),
        Err(DecodeError::TooLarge(MAX_MESSAGE_SIZE + 1))
    );
    let bad_cid = Pb {
        wantlist: Some(Wantlist {
            entries: vec![wantlist::Entry {
                block: Bytes::from_static(b"nope"),
                ..Default::default()
            }],
            full: false,
        }),
        ..Pb::default()
    };
    assert_eq!(
        Message::decode(&bad_cid.encode_to_vec()),
        Err(DecodeError::Cid)
    );
    let bad_prefix = Pb {
        payload: vec![crate::proto::message::Block {
            prefix: Bytes::from_static(&[0x01]),
            data: Bytes::new(),
        }],
        ..Pb::default()
    };
    assert_eq!(
        Message::decode(&bad_prefix.encode_to_vec()),
        Err(DecodeError::Prefix)
    );
    let unsupported_hash = Pb {
        payload: vec![crate::proto::message::Block {
            prefix: Bytes::from_static(&[0x01, 0x55, 0x14, 0x40]),
            data: Bytes::new(),
        }],
        ..Pb::default()
    };
    assert_eq!(
        Message::decode(&unsupported_hash.encode_to_vec()),
        Err(DecodeError::Block(BlockError::UnsupportedHash(0x14)))
    );
}

/// The bytes Helia writes for a want-block of the seed's CID, with its proto3 `optional`
/// fields present even when false: they decode as boxo's plain fields.
#[test]
fn reads_helia_style_explicit_defaults() {
    let cid: Cid = "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4"
        .parse()
        .expect("cid");
    let mut entry = vec![0x0a, cid.to_bytes().len() as u8];
    entry.extend(cid.to_bytes());
    entry.extend([0x10, 0x01, 0x18, 0x00, 0x20, 0x00, 0x28, 0x01]); // priority 1, cancel false, Block, sendDontHave
    let mut wantlist = vec![0x0a, entry.len() as u8];
    wantlist.extend(entry);
    wantlist.extend([0x10, 0x00]); // full: false, written explicitly
    let mut bytes = vec![0x0a, wantlist.len() as u8];
    bytes.extend(wantlist);
    let message = Message::decode(&bytes).expect("decode");
    assert_eq!(
        message.wants,
        vec![Want {
            cid,
            priority: 1,
            cancel: false,
            want_type: WantType::Block,
            send_dont_have: true
        }]
    );
}

proptest! {
    #[test]
    fn any_message_round_trips(datas in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..5),
                               priorities in prop::collection::vec(any::<i32>(), 0..5),
                               full in any::<bool>(), pending in any::<i32>()) {
        let blocks: Vec<Block> = datas.iter().map(|d| block(d, Codec::Raw)).collect();
        let wants = blocks.iter().zip(&priorities).map(|(b, p)| Want { priority: *p, ..want(*b.cid(), WantType::Have) }).collect();
        let presences = blocks.iter().map(|b| (*b.cid(), Presence::DontHave)).collect();
        let message = Message { wants, full, blocks, presences, pending_bytes: pending };
        prop_assert_eq!(Message::decode(&message.encode(Version::V1_2)), Ok(message));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::decode(&bytes);
    }
}
