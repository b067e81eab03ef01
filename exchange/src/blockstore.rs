//! Where blocks are kept: the [`Blockstore`] trait, [`MemoryBlockstore`] and two persistent,
//! crash-safe stores, [`FlatBlockstore`] (a file per block, as Kubo) and [`RedbBlockstore`]
//! (one database file).

#[cfg(not(wasm_browser))]
mod flat;
#[cfg(not(wasm_browser))]
mod redb;

use std::collections::HashMap;
use std::sync::RwLock;

use cid::Cid;

#[cfg(not(wasm_browser))]
pub use self::flat::FlatBlockstore;
#[cfg(not(wasm_browser))]
pub use self::redb::RedbBlockstore;
use crate::Block;

/// Why a blockstore operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file or directory of the store could not be used (a full disk, permissions, I/O).
    #[error("blockstore: cannot {op} {}", path.display())]
    Io {
        /// What was being done: `read`, `write`, `sync`, `create`, `rename into`, …
        op: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The storage engine (redb) failed.
    #[error("blockstore: the storage engine failed")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store cannot be used, for a reason with no underlying error: a layout it does not
    /// read, a poisoned lock, a page without IndexedDB, a call that panicked.
    #[error("blockstore: {0}")]
    Unavailable(String),
    /// A stored block no longer matches its CID (bit rot, tampering): reported, never served.
    #[error("stored block {0} is corrupt")]
    Corrupt(Cid),
}

/// A store of verified blocks, keyed by multihash (so CIDv0 and CIDv1 of the same bytes, or
/// one digest under two codecs, share storage, as Kubo does). Only [`Block`]s go in, so nothing
/// unverified is ever stored.
///
/// Implementations are synchronous and fast (memory or a local embedded database); callers on
/// an async runtime that expect slow disks wrap calls in `spawn_blocking`.
pub trait Blockstore: std::fmt::Debug + Send + Sync + 'static {
    /// The block `cid` names, if stored.
    fn get(&self, cid: &Cid) -> Result<Option<Block>, StoreError>;

    /// Whether the block is stored.
    fn has(&self, cid: &Cid) -> Result<bool, StoreError>;

    /// The size of the stored block, if stored.
    fn size(&self, cid: &Cid) -> Result<Option<usize>, StoreError>;

    /// Stores a block. Once this returns, the block survives a crash.
    fn put(&self, block: &Block) -> Result<(), StoreError>;

    /// Removes a block; whether it was there.
    fn remove(&self, cid: &Cid) -> Result<bool, StoreError>;

    /// Stores several blocks; once this returns, all of them survive a crash. Backends with
    /// transactions write them in one.
    fn put_many(&self, blocks: &[Block]) -> Result<(), StoreError> {
        blocks.iter().try_for_each(|b| self.put(b))
    }
}

/// The storage key: the multihash's bytes.
fn key(cid: &Cid) -> Vec<u8> {
    cid.hash().to_bytes()
}

/// Blocks in memory, for tests, browsers and caches. They are kept as the verified [`Block`]s
/// they came in as, so reads hash nothing.
#[derive(Debug, Default)]
pub struct MemoryBlockstore {
    blocks: RwLock<HashMap<Vec<u8>, Block>>,
}

impl MemoryBlockstore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Blockstore for MemoryBlockstore {
    fn get(&self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        let blocks = self
            .blocks
            .read()
            .map_err(|_| StoreError::Unavailable("lock poisoned".into()))?;
        match blocks.get(&key(cid)) {
            None => Ok(None),
            Some(block) => block
                .renamed(*cid)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(*cid)),
        }
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.size(cid)?.is_some())
    }

    fn size(&self, cid: &Cid) -> Result<Option<usize>, StoreError> {
        let blocks = self
            .blocks
            .read()
            .map_err(|_| StoreError::Unavailable("lock poisoned".into()))?;
        Ok(blocks.get(&key(cid)).map(|b| b.data().len()))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        let mut blocks = self
            .blocks
            .write()
            .map_err(|_| StoreError::Unavailable("lock poisoned".into()))?;
        blocks.insert(key(block.cid()), block.clone());
        Ok(())
    }

    fn remove(&self, cid: &Cid) -> Result<bool, StoreError> {
        let mut blocks = self
            .blocks
            .write()
            .map_err(|_| StoreError::Unavailable("lock poisoned".into()))?;
        Ok(blocks.remove(&key(cid)).is_some())
    }
}

#[cfg(test)]
mod tests;
