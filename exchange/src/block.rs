//! Blocks: bytes and the CID that names them, verified to match.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use cid::Cid;
use multihash::Multihash;
use multihash_codetable::{Code, MultihashDigest};

/// The largest block Switchboard stores or exchanges: 2 MiB, as Kubo and Helia.
pub const MAX_BLOCK_SIZE: usize = 2 * 1024 * 1024;

/// The IPLD codecs a CID may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// `raw` (0x55): bytes as they are.
    Raw,
    /// `dag-pb` (0x70): UnixFS and other protobuf DAGs.
    DagPb,
    /// `dag-cbor` (0x71).
    DagCbor,
    /// `dag-json` (0x0129).
    DagJson,
}

impl Codec {
    /// The multicodec code.
    pub fn code(self) -> u64 {
        match self {
            Codec::Raw => 0x55,
            Codec::DagPb => 0x70,
            Codec::DagCbor => 0x71,
            Codec::DagJson => 0x0129,
        }
    }

    /// The codec of a multicodec code.
    pub fn from_code(code: u64) -> Result<Self, BlockError> {
        match code {
            0x55 => Ok(Codec::Raw),
            0x70 => Ok(Codec::DagPb),
            0x71 => Ok(Codec::DagCbor),
            0x0129 => Ok(Codec::DagJson),
            other => Err(BlockError::UnsupportedCodec(other)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Raw => "raw",
            Codec::DagPb => "dag-pb",
            Codec::DagCbor => "dag-cbor",
            Codec::DagJson => "dag-json",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = BlockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Codec::Raw, Codec::DagPb, Codec::DagCbor, Codec::DagJson]
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| BlockError::UnknownName(s.to_owned()))
    }
}

/// The hash functions a CID's multihash may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hash {
    /// `sha2-256` (0x12), the default everywhere.
    Sha2_256,
    /// `sha2-512` (0x13).
    Sha2_512,
    /// `blake3` (0x1e), 32-byte digests.
    Blake3,
    /// `identity` (0x00): the data itself, at most 64 bytes here.
    Identity,
}

/// The longest identity "digest" (the data itself) a CID may carry.
const MAX_IDENTITY: usize = 64;

impl Hash {
    /// The multihash code.
    pub fn code(self) -> u64 {
        match self {
            Hash::Sha2_256 => 0x12,
            Hash::Sha2_512 => 0x13,
            Hash::Blake3 => 0x1e,
            Hash::Identity => 0x00,
        }
    }

    /// The hash of a multihash code.
    pub fn from_code(code: u64) -> Result<Self, BlockError> {
        match code {
            code if code == Hash::Sha2_256.code() => Ok(Hash::Sha2_256),
            code if code == Hash::Sha2_512.code() => Ok(Hash::Sha2_512),
            code if code == Hash::Blake3.code() => Ok(Hash::Blake3),
            code if code == Hash::Identity.code() => Ok(Hash::Identity),
            other => Err(BlockError::UnsupportedHash(other)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Hash::Sha2_256 => "sha2-256",
            Hash::Sha2_512 => "sha2-512",
            Hash::Blake3 => "blake3",
            Hash::Identity => "identity",
        }
    }

    /// The length of this hash's digests; `None` for identity, whose digest is the data.
    /// A CID with another length is refused: boxo refuses digests under 20 bytes, and a
    /// truncated digest only weakens what the CID promises.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Hash::Sha2_256 | Hash::Blake3 => Some(32),
            Hash::Sha2_512 => Some(64),
            Hash::Identity => None,
        }
    }

    /// Checks a digest's length against this hash's.
    fn check_len(self, len: usize) -> Result<(), BlockError> {
        match self.digest_len() {
            Some(expected) if expected != len => Err(BlockError::DigestLength {
                hash: self,
                len,
                expected,
            }),
            None if len > MAX_IDENTITY => Err(BlockError::IdentityTooLarge(len)),
            _ => Ok(()),
        }
    }

    fn digest(self, data: &[u8]) -> Result<Multihash<64>, BlockError> {
        Ok(match self {
            Hash::Sha2_256 => Code::Sha2_256.digest(data),
            Hash::Sha2_512 => Code::Sha2_512.digest(data),
            Hash::Blake3 => Code::Blake3_256.digest(data),
            Hash::Identity => {
                Multihash::wrap(0x00, data).map_err(|_| BlockError::IdentityTooLarge(data.len()))?
            }
        })
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hash {
    type Err = BlockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Hash::Sha2_256, Hash::Sha2_512, Hash::Blake3, Hash::Identity]
            .into_iter()
            .find(|h| h.name() == s)
            .ok_or_else(|| BlockError::UnknownName(s.to_owned()))
    }
}

/// Why bytes and a CID do not make a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The data does not hash to the CID.
    #[error("block does not match its cid {0}")]
    Mismatch(Cid),
    /// The block is larger than [`MAX_BLOCK_SIZE`].
    #[error("block of {0} bytes is over the 2 MiB limit")]
    TooLarge(usize),
    /// The CID names a codec Switchboard does not handle.
    #[error("unsupported cid codec 0x{0:x}")]
    UnsupportedCodec(u64),
    /// The CID's multihash uses a hash Switchboard does not verify.
    #[error("unsupported multihash 0x{0:x}")]
    UnsupportedHash(u64),
    /// An identity multihash longer than 64 bytes.
    #[error("identity hash of {0} bytes (at most 64)")]
    IdentityTooLarge(usize),
    /// A digest whose length is not its hash function's (`bafkreaa`: sha2-256, no digest).
    #[error("{hash} digest of {len} bytes (must be {expected})")]
    DigestLength {
        /// The hash function.
        hash: Hash,
        /// The digest's length.
        len: usize,
        /// The hash function's digest length.
        expected: usize,
    },
    /// A codec or hash name that is not known.
    #[error("unknown codec or hash name `{0}`")]
    UnknownName(String),
}

/// Bytes and the CID that names them. Every `Block` has been verified: its data hashes to its
/// CID, with a supported codec and hash, within [`MAX_BLOCK_SIZE`].
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    cid: Cid,
    data: Bytes,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("cid", &self.cid.to_string())
            .field("len", &self.data.len())
            .finish()
    }
}

impl Block {
    /// Makes a CIDv1 for `data` with `codec` and `hash`.
    pub fn encode(codec: Codec, hash: Hash, data: impl Into<Bytes>) -> Result<Self, BlockError> {
        let data = data.into();
        check_size(data.len())?;
        let cid = Cid::new_v1(codec.code(), hash.digest(&data)?);
        Ok(Self { cid, data })
    }

    /// Checks that `data` is the block `cid` names.
    pub fn verify(cid: Cid, data: impl Into<Bytes>) -> Result<Self, BlockError> {
        let data = data.into();
        check_size(data.len())?;
        let hash = check_cid(&cid)?;
        if hash.digest(&data)?.digest() != cid.hash().digest() {
            return Err(BlockError::Mismatch(cid));
        }
        Ok(Self { cid, data })
    }

    /// The same bytes named by `cid`, which must have this block's multihash (another codec,
    /// or CIDv0 for CIDv1): no hashing needed. Any other CID is verified in full.
    pub(crate) fn renamed(&self, cid: Cid) -> Result<Self, BlockError> {
        if cid.hash() != self.cid.hash() {
            return Self::verify(cid, self.data.clone());
        }
        Codec::from_code(cid.codec())?;
        Ok(Self {
            cid,
            data: self.data.clone(),
        })
    }

    /// The CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The data.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Into the CID and the data.
    pub fn into_parts(self) -> (Cid, Bytes) {
        (self.cid, self.data)
    }
}

/// A CID without its digest, as Bitswap 1.1+ sends it beside a block's data:
/// `uvarint(version) uvarint(codec) uvarint(hash) uvarint(digest length)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix {
    pub(crate) version: cid::Version,
    pub(crate) codec: u64,
    pub(crate) hash: u64,
    pub(crate) len: usize,
}

impl Prefix {
    pub(crate) fn of(cid: &Cid) -> Self {
        Self {
            version: cid.version(),
            codec: cid.codec(),
            hash: cid.hash().code(),
            len: cid.hash().size().into(),
        }
    }

    /// The prefix bytes.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        for n in [
            u64::from(self.version),
            self.codec,
            self.hash,
            self.len as u64,
        ] {
            out.extend_from_slice(unsigned_varint::encode::u64(
                n,
                &mut unsigned_varint::encode::u64_buffer(),
            ));
        }
        out
    }

    /// Parses prefix bytes; `None` when they are not four varints.
    pub(crate) fn from_bytes(mut bytes: &[u8]) -> Option<Self> {
        let mut next = || {
            let (n, rest) = unsigned_varint::decode::u64(bytes).ok()?;
            bytes = rest;
            Some(n)
        };
        let version = cid::Version::try_from(next()?).ok()?;
        let (codec, hash, len) = (next()?, next()?, usize::try_from(next()?).ok()?);
        bytes.is_empty().then_some(Self {
            version,
            codec,
            hash,
            len,
        })
    }

    /// The block this prefix and `data` make: the data is hashed once, the digest cut to the
    /// prefix's length.
    pub(crate) fn block(self, data: Bytes) -> Result<Block, BlockError> {
        check_size(data.len())?;
        Codec::from_code(self.codec)?;
        let function = Hash::from_code(self.hash)?;
        function.check_len(self.len)?;
        let digest = function.digest(&data)?;
        // An identity prefix's length is the data's; a shorter one names other bytes.
        if digest.size() as usize != self.len {
            return Err(BlockError::DigestLength {
                hash: function,
                len: self.len,
                expected: digest.size().into(),
            });
        }
        let hash = Multihash::wrap(self.hash, digest.digest())
            .map_err(|_| BlockError::UnsupportedHash(self.hash))?;
        let cid = match self.version {
            cid::Version::V0 => {
                Cid::new_v0(hash).map_err(|_| BlockError::UnsupportedCodec(self.codec))?
            }
            cid::Version::V1 => Cid::new_v1(self.codec, hash),
        };
        Ok(Block { cid, data })
    }
}

fn check_size(len: usize) -> Result<(), BlockError> {
    if len > MAX_BLOCK_SIZE {
        Err(BlockError::TooLarge(len))
    } else {
        Ok(())
    }
}

/// Checks that a CID names a supported codec and hash, with a digest of the hash's length,
/// before anything is asked for it or served under it; the hash.
pub fn check_cid(cid: &Cid) -> Result<Hash, BlockError> {
    Codec::from_code(cid.codec())?;
    let hash = Hash::from_code(cid.hash().code())?;
    hash.check_len(cid.hash().size().into())?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The seed's block, as Kubo makes it: `echo -n 'here is some data' | ipfs block put`
    /// (CIDv1, raw, sha2-256, base32). The expected string is derived from the CID spec alone:
    /// `"b" + base32(0x01 0x55 0x12 0x20 ‖ sha256(data))`, lowercase, unpadded.
    #[test]
    fn seed_block_cid_matches_kubo() {
        let block =
            Block::encode(Codec::Raw, Hash::Sha2_256, &b"here is some data"[..]).expect("block");
        assert_eq!(
            block.cid().to_string(),
            "bafkreihsllvadc62egx5hx4wubxqa34vfjzzn3lck35uut2x7njvulfjz4"
        );
    }

    #[test]
    fn mismatching_data_is_refused() {
        let block = Block::encode(Codec::Raw, Hash::Sha2_256, &b"one"[..]).expect("block");
        assert_eq!(
            Block::verify(*block.cid(), &b"two"[..]),
            Err(BlockError::Mismatch(*block.cid()))
        );
    }

    #[test]
    fn limits_and_unsupported_names() {
        let big = vec![0u8; MAX_BLOCK_SIZE + 1];
        assert_eq!(
            Block::encode(Codec::Raw, Hash::Sha2_256, big),
            Err(BlockError::TooLarge(MAX_BLOCK_SIZE + 1))
        );
        assert!(Block::encode(Codec::Raw, Hash::Sha2_256, vec![0u8; MAX_BLOCK_SIZE]).is_ok());
        assert_eq!(
            Block::encode(Codec::Raw, Hash::Identity, vec![1u8; 65]),
            Err(BlockError::IdentityTooLarge(65))
        );
        let md5ish = Cid::new_v1(
            0x55,
            Multihash::<64>::wrap(0xd5, &[0; 16]).expect("multihash"),
        );
        assert_eq!(
            Block::verify(md5ish, &b""[..]),
            Err(BlockError::UnsupportedHash(0xd5))
        );
        let git = Cid::new_v1(0x78, Code::Sha2_256.digest(b"x"));
        assert_eq!(check_cid(&git), Err(BlockError::UnsupportedCodec(0x78)));
        assert_eq!("dag-cbor".parse(), Ok(Codec::DagCbor));
        assert_eq!("blake3".parse(), Ok(Hash::Blake3));
        assert!("md5".parse::<Hash>().is_err());
    }

    /// `bafkreaa` is sha2-256 with an empty digest; a truncated or overlong digest is refused
    /// too, whether it comes as a CID or as a Bitswap block prefix.
    #[test]
    fn digests_must_have_their_hash_length() {
        let empty: Cid = "bafkreaa".parse().expect("a CID, however useless");
        assert_eq!(
            check_cid(&empty),
            Err(BlockError::DigestLength {
                hash: Hash::Sha2_256,
                len: 0,
                expected: 32
            })
        );
        assert_eq!(
            Block::verify(empty, &b""[..]),
            Err(BlockError::DigestLength {
                hash: Hash::Sha2_256,
                len: 0,
                expected: 32
            })
        );
        let full = Code::Sha2_256.digest(b"x");
        let truncated = Multihash::<64>::wrap(0x12, &full.digest()[..20]).expect("multihash");
        assert!(matches!(
            check_cid(&Cid::new_v1(0x55, truncated)),
            Err(BlockError::DigestLength { len: 20, .. })
        ));
        let prefix = Prefix {
            version: cid::Version::V1,
            codec: 0x55,
            hash: 0x12,
            len: 20,
        };
        assert!(matches!(
            prefix.block(Bytes::from_static(b"x")),
            Err(BlockError::DigestLength { len: 20, .. })
        ));
        // An identity prefix shorter than its data would name other bytes.
        let identity = Prefix {
            hash: 0x00,
            len: 1,
            ..prefix
        };
        assert!(identity.block(Bytes::from_static(b"xy")).is_err());
        let exact = Prefix { len: 2, ..identity };
        assert!(exact.block(Bytes::from_static(b"xy")).is_ok());
        assert_eq!(check_cid(&Cid::new_v1(0x55, full)), Ok(Hash::Sha2_256));
    }

    #[test]
    fn prefixes_are_four_varints() {
        let v1 = Block::encode(Codec::Raw, Hash::Sha2_256, &b"x"[..]).expect("block");
        assert_eq!(Prefix::of(v1.cid()).to_bytes(), [0x01, 0x55, 0x12, 0x20]);
        let v0 = Cid::new_v0(Code::Sha2_256.digest(b"x")).expect("cidv0");
        assert_eq!(Prefix::of(&v0).to_bytes(), [0x00, 0x70, 0x12, 0x20]);
        let dag_json = Block::encode(Codec::DagJson, Hash::Blake3, &b"{}"[..]).expect("block");
        let prefix = Prefix::of(dag_json.cid());
        assert_eq!(Prefix::from_bytes(&prefix.to_bytes()), Some(prefix));
        assert_eq!(prefix.block(dag_json.data().clone()), Ok(dag_json));
        assert_eq!(Prefix::from_bytes(&[0x01, 0x55, 0x12]), None);
        assert_eq!(Prefix::from_bytes(&[0x01, 0x55, 0x12, 0x20, 0x00]), None);
    }

    proptest! {
        #[test]
        fn encoded_blocks_verify(data in prop::collection::vec(any::<u8>(), 0..2048),
                                 codec in prop::sample::select(vec![Codec::Raw, Codec::DagPb, Codec::DagCbor]),
                                 hash in prop::sample::select(vec![Hash::Sha2_256, Hash::Sha2_512, Hash::Blake3])) {
            let block = Block::encode(codec, hash, data.clone()).expect("encode");
            prop_assert_eq!(Block::verify(*block.cid(), data.clone()), Ok(block.clone()));
            let mut other = data;
            other.push(0);
            prop_assert_eq!(Block::verify(*block.cid(), other), Err(BlockError::Mismatch(*block.cid())));
        }
    }
}
