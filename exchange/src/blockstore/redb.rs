//! A persistent blockstore on redb: one file, ACID transactions, fsync on every commit.

use std::path::Path;

use ::redb::{Database, ReadableDatabase, TableDefinition};
use cid::Cid;

use super::{Blockstore, StoreError, key};
use crate::Block;

/// multihash bytes → block data.
const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Engine(Box::new(e))
}

/// Blocks in a redb database file. A `put` that returned is on disk: redb commits with fsync
/// and its copy-on-write B-tree leaves either the old or the new state after a crash, never a
/// torn block.
#[derive(Debug)]
pub struct RedbBlockstore {
    db: Database,
}

impl RedbBlockstore {
    /// Opens (or creates) the store at `path`. A second process opening the same file gets an
    /// error (redb locks it).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let write = db.begin_write().map_err(backend)?;
        write.open_table(BLOCKS).map_err(backend)?;
        write.commit().map_err(backend)?;
        Ok(Self { db })
    }

    fn read(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(BLOCKS).map_err(backend)?;
        Ok(table
            .get(key(cid).as_slice())
            .map_err(backend)?
            .map(|v| v.value().to_vec()))
    }
}

impl Blockstore for RedbBlockstore {
    fn get(&self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        match self.read(cid)? {
            None => Ok(None),
            Some(data) => Block::verify(*cid, data)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(*cid)),
        }
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.size(cid)?.is_some())
    }

    fn size(&self, cid: &Cid) -> Result<Option<usize>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(BLOCKS).map_err(backend)?;
        Ok(table
            .get(key(cid).as_slice())
            .map_err(backend)?
            .map(|v| v.value().len()))
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.put_many(std::slice::from_ref(block))
    }

    /// One transaction, so one fsync, for all the blocks.
    fn put_many(&self, blocks: &[Block]) -> Result<(), StoreError> {
        let write = self.db.begin_write().map_err(backend)?;
        {
            let mut table = write.open_table(BLOCKS).map_err(backend)?;
            for block in blocks {
                table
                    .insert(key(block.cid()).as_slice(), block.data().as_ref())
                    .map_err(backend)?;
            }
        }
        write.commit().map_err(backend)
    }

    fn remove(&self, cid: &Cid) -> Result<bool, StoreError> {
        let write = self.db.begin_write().map_err(backend)?;
        let removed = {
            let mut table = write.open_table(BLOCKS).map_err(backend)?;
            table
                .remove(key(cid).as_slice())
                .map_err(backend)?
                .is_some()
        };
        write.commit().map_err(backend)?;
        Ok(removed)
    }
}
