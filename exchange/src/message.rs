//! Bitswap messages: wantlists, blocks and block presences, and their protobuf encoding for
//! each protocol version.

use bytes::Bytes;
use cid::Cid;
use prost::Message as _;

use crate::block::Prefix;
use crate::proto::Message as Pb;
use crate::proto::message::{BlockPresence, BlockPresenceType, Wantlist, wantlist};
use crate::{Block, BlockError};

/// The largest encoded message accepted or sent: 4 MiB, as libp2p's `MessageSizeMax` in boxo
/// and Helia's limit.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// A Bitswap protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `/ipfs/bitswap` and `/ipfs/bitswap/1.0.0`: blocks as bare data, implied CIDv0.
    V1_0,
    /// `/ipfs/bitswap/1.1.0`: blocks with their CID prefix.
    V1_1,
    /// `/ipfs/bitswap/1.2.0`: want-have, HAVE / DONT_HAVE presences.
    V1_2,
}

/// What a wantlist entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WantType {
    /// Send the block.
    Block,
    /// Say whether you have it (Bitswap 1.2).
    Have,
}

/// One wantlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The block wanted.
    pub cid: Cid,
    /// Higher first.
    pub priority: i32,
    /// Revokes an earlier want for this CID.
    pub cancel: bool,
    /// Block or HAVE.
    pub want_type: WantType,
    /// Answer DONT_HAVE when the block is missing.
    pub send_dont_have: bool,
}

/// Whether a peer has a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// It has it.
    Have,
    /// It does not.
    DontHave,
}

/// One Bitswap message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Wantlist entries.
    pub wants: Vec<Want>,
    /// Whether `wants` replaces the sender's whole wantlist.
    pub full: bool,
    /// Blocks, each verified against the CID its prefix and data make.
    pub blocks: Vec<Block>,
    /// HAVE / DONT_HAVE answers.
    pub presences: Vec<(Cid, Presence)>,
    /// Bytes the sender still has queued for us.
    pub pending_bytes: i32,
}

/// Why bytes are not a Bitswap message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Over [`MAX_MESSAGE_SIZE`].
    #[error("message of {0} bytes is over the 4 MiB limit")]
    TooLarge(usize),
    /// Not a valid protobuf message.
    #[error("malformed bitswap message: {0}")]
    Protobuf(String),
    /// A wantlist entry or presence with bytes that are not a CID.
    #[error("malformed cid in a bitswap message")]
    Cid,
    /// A block prefix that is not four varints.
    #[error("malformed block prefix in a bitswap message")]
    Prefix,
    /// A block that cannot be accepted (too large, unsupported codec or hash).
    #[error(transparent)]
    Block(#[from] BlockError),
}

impl Message {
    /// The bytes of block data the message carries, which is what the engine counts in flight.
    pub fn block_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.data().len()).sum()
    }

    /// Whether the message carries nothing.
    pub fn is_empty(&self) -> bool {
        self.wants.is_empty() && !self.full && self.blocks.is_empty() && self.presences.is_empty()
    }

    /// Encodes the message for a peer speaking `version`: 1.0 gets blocks as bare data and no
    /// presences; 1.1 gets prefixed blocks and no presences; 1.2 gets everything.
    pub fn encode(&self, version: Version) -> Vec<u8> {
        let entries = self
            .wants
            .iter()
            .map(|w| wantlist::Entry {
                block: Bytes::from(w.cid.to_bytes()),
                priority: w.priority,
                cancel: w.cancel,
                want_type: match w.want_type {
                    WantType::Block => wantlist::WantType::Block,
                    WantType::Have => wantlist::WantType::Have,
                }
                .into(),
                send_dont_have: w.send_dont_have,
            })
            .collect();
        let mut pb = Pb {
            wantlist: Some(Wantlist {
                entries,
                full: self.full,
            }),
            pending_bytes: self.pending_bytes,
            ..Pb::default()
        };
        match version {
            Version::V1_0 => pb.blocks = self.blocks.iter().map(|b| b.data().clone()).collect(),
            Version::V1_1 | Version::V1_2 => {
                pb.payload = self
                    .blocks
                    .iter()
                    .map(|b| crate::proto::message::Block {
                        prefix: Bytes::from(Prefix::of(b.cid()).to_bytes()),
                        data: b.data().clone(),
                    })
                    .collect();
            }
        }
        if version == Version::V1_2 {
            pb.block_presences = self
                .presences
                .iter()
                .map(|(cid, presence)| BlockPresence {
                    cid: Bytes::from(cid.to_bytes()),
                    r#type: match presence {
                        Presence::Have => BlockPresenceType::Have,
                        Presence::DontHave => BlockPresenceType::DontHave,
                    }
                    .into(),
                })
                .collect();
        }
        pb.encode_to_vec()
    }

    /// Decodes a message of any version. Blocks come out verified: each one's CID is what its
    /// prefix (or, for 1.0, CIDv0) and data make, so the caller only checks it was wanted.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_MESSAGE_SIZE {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        let pb = Pb::decode(bytes).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
        let cid = |bytes: &[u8]| Cid::try_from(bytes).map_err(|_| DecodeError::Cid);
        let (wants, full) = match pb.wantlist {
            None => (Vec::new(), false),
            Some(list) => {
                let wants = list
                    .entries
                    .iter()
                    .map(|e| {
                        Ok(Want {
                            cid: cid(&e.block)?,
                            priority: e.priority,
                            cancel: e.cancel,
                            want_type: match wantlist::WantType::try_from(e.want_type) {
                                Ok(wantlist::WantType::Have) => WantType::Have,
                                // Unknown values read as the default, want-block, as in boxo.
                                _ => WantType::Block,
                            },
                            send_dont_have: e.send_dont_have,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?;
                (wants, list.full)
            }
        };
        let v0 = Prefix {
            version: cid::Version::V0,
            codec: 0x70,
            hash: 0x12,
            len: 32,
        };
        let mut blocks = pb
            .blocks
            .into_iter()
            .map(|data| v0.block(data))
            .collect::<Result<Vec<_>, _>>()?;
        for block in pb.payload {
            let prefix = Prefix::from_bytes(&block.prefix).ok_or(DecodeError::Prefix)?;
            blocks.push(prefix.block(block.data)?);
        }
        let presences = pb
            .block_presences
            .iter()
            .map(|p| {
                let presence = match BlockPresenceType::try_from(p.r#type) {
                    Ok(BlockPresenceType::DontHave) => Presence::DontHave,
                    _ => Presence::Have,
                };
                Ok((cid(&p.cid)?, presence))
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(Self {
            wants,
            full,
            blocks,
            presences,
            pending_bytes: pb.pending_bytes,
        })
    }
}

#[cfg(test)]
mod tests;
