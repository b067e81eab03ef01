//! A persistent blockstore of one file per block, laid out as Kubo's flatfs.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use cid::Cid;

use super::{Blockstore, StoreError, key};
use crate::Block;

/// The sharding Kubo's default repo uses, as its `SHARDING` file names it: the directory is
/// the two characters before the last of the key.
const SHARDING: &str = "/repo/flatfs/shard/v1/next-to-last/2";

/// Prefix of files being written; never read as blocks, left behind only by a crash.
const TEMP_PREFIX: &str = ".put-";

fn io_error(op: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Blocks as files, `<root>/<shard>/<KEY>.data` where `KEY` is the multihash in unpadded
/// upper-case base32 and `<shard>` its next-to-last two characters: the layout of Kubo's flatfs
/// (`SHARDING` = `/repo/flatfs/shard/v1/next-to-last/2`), so a Kubo user finds blocks where
/// they expect them.
///
/// A `put` that returned is on disk: each block is written to a temporary file and synced,
/// renamed into place, then the directories holding the new names are synced. A crash leaves
/// either no file or the whole block under its name (plus, at worst, an unread temporary
/// file). Blocks are independent files, so writes need no global lock and run as fast as the
/// file system syncs (about twice redb's one-commit-per-block rate on this project's machines).
#[derive(Debug)]
pub struct FlatBlockstore {
    root: PathBuf,
}

impl FlatBlockstore {
    /// Opens (or creates) the store in directory `root`. A directory sharded any other way is
    /// refused rather than half-read.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(|e| io_error("create", root, e))?;
        let sharding = root.join("SHARDING");
        match fs::read_to_string(&sharding) {
            Ok(found) if found.trim() == SHARDING => {}
            Ok(found) => {
                return Err(StoreError::Unavailable(format!(
                    "{} is sharded as {:?}; only {SHARDING} is supported",
                    root.display(),
                    found.trim()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write_temp(root, format!("{SHARDING}\n").as_bytes())?
                    .persist(&sharding)
                    .map_err(|e| io_error("rename into", &sharding, e.error))?;
                sync_dir(root)?;
            }
            Err(e) => return Err(io_error("read", &sharding, e)),
        }
        remove_stale_temps(root);
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The shard directory and file of the block `cid` names.
    fn path(&self, cid: &Cid) -> (PathBuf, PathBuf) {
        let name = data_encoding::BASE32_NOPAD.encode(&key(cid));
        // Kubo pads keys shorter than the shard with '_'; multihashes are never that short.
        let shard = &name[name.len() - 3..name.len() - 1];
        let dir = self.root.join(shard);
        let file = dir.join(format!("{name}.data"));
        (dir, file)
    }

    /// Writes `block` under a temporary name in its shard directory, synced; returns the
    /// temporary file (removed if dropped) and where it goes. `None` when already stored (as
    /// Kubo's blockstore, a block present is not written again).
    fn stage(&self, block: &Block) -> Result<Option<(tempfile::TempPath, PathBuf)>, StoreError> {
        let (dir, file) = self.path(block.cid());
        if fs::metadata(&file).is_ok_and(|m| m.len() == block.data().len() as u64) {
            return Ok(None);
        }
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        Ok(Some((write_temp(&dir, block.data())?, file)))
    }
}

impl Blockstore for FlatBlockstore {
    fn get(&self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        let (_, file) = self.path(cid);
        match fs::read(&file) {
            Ok(data) => Block::verify(*cid, data)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(*cid)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &file, e)),
        }
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        Ok(self.size(cid)?.is_some())
    }

    fn size(&self, cid: &Cid) -> Result<Option<usize>, StoreError> {
        let (_, file) = self.path(cid);
        match fs::metadata(&file) {
            Ok(meta) => Ok(Some(meta.len() as usize)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("stat", &file, e)),
        }
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.put_many(std::slice::from_ref(block))
    }

    /// Every block is written and synced first, then all are renamed into place and each
    /// directory that gained a name is synced once.
    fn put_many(&self, blocks: &[Block]) -> Result<(), StoreError> {
        let mut staged = Vec::with_capacity(blocks.len());
        for block in blocks {
            if let Some(entry) = self.stage(block)? {
                staged.push(entry);
            }
        }
        let mut dirs = BTreeSet::new();
        for (temp, file) in staged {
            temp.persist(&file)
                .map_err(|e| io_error("rename into", &file, e.error))?;
            dirs.insert(file.parent().expect("a shard directory").to_path_buf());
        }
        if !dirs.is_empty() {
            // A shard directory made by this put is itself a new name in the root.
            dirs.insert(self.root.clone());
        }
        dirs.iter().try_for_each(|dir| sync_dir(dir))
    }

    fn remove(&self, cid: &Cid) -> Result<bool, StoreError> {
        let (dir, file) = self.path(cid);
        match fs::remove_file(&file) {
            Ok(()) => sync_dir(&dir).map(|()| true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("remove", &file, e)),
        }
    }
}

/// How old a temporary file must be before [`FlatBlockstore::open`] takes it for a crash's
/// leftover: a put still writing it (another process on the same repo) is younger.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the temporary files a process killed mid-put left (they are never read, but would
/// take disk space for ever). Best effort: a file that cannot be listed or removed stays.
fn remove_stale_temps(root: &Path) {
    let Ok(shards) = fs::read_dir(root) else {
        return;
    };
    let dirs = shards
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .chain([root.to_path_buf()]);
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= STALE_TEMP);
            if stale && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes `data` to a new temporary file in `dir` and syncs it; the file is removed if the
/// returned path is dropped before it is persisted under its real name.
fn write_temp(dir: &Path, data: &[u8]) -> Result<tempfile::TempPath, StoreError> {
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| io_error("create a file in", dir, e))?;
    temp.write_all(data)
        .and_then(|()| temp.as_file().sync_data())
        .map_err(|e| io_error("write", temp.path(), e))?;
    Ok(temp.into_temp_path())
}

/// Makes the names in `dir` durable (a renamed file survives a crash only once its directory
/// is synced).
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync", dir, e))
}
