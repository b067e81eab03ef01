//! `switchboard block put|get|stat|rm`: through the daemon's API when one runs on the repo,
//! on the repo's blockstore directly when none does (as Kubo's offline mode).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use switchboard_daemon::api::Client;
use switchboard_exchange::{Block, Blockstore, Cid, Codec, Hash};
use switchboard_node::{Repo, RepoError};

/// `switchboard block …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BlockCommand {
    /// Store a block from FILE (or stdin) and print its CID.
    Put {
        /// The data; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        /// The CID's codec: raw, dag-pb, dag-cbor or dag-json.
        #[arg(long, default_value = "raw")]
        cid_codec: Codec,
        /// The multihash: sha2-256, sha2-512, blake3 or identity.
        #[arg(long, default_value = "sha2-256")]
        mhtype: Hash,
    },
    /// Write a block's bytes to stdout, fetching it from peers if needed.
    Get {
        /// The block.
        cid: Cid,
        /// How long to wait for peers, e.g. `30s` (default 60s).
        #[arg(long)]
        timeout: Option<String>,
    },
    /// Print a block's CID and size.
    Stat {
        /// The block.
        cid: Cid,
    },
    /// Remove blocks from the repo.
    Rm {
        /// The blocks.
        #[arg(required = true)]
        cids: Vec<Cid>,
    },
}

pub(crate) fn run(dir: &Path, command: BlockCommand) -> anyhow::Result<()> {
    match Repo::api_addr(dir)? {
        Some(addr) => online(&Client::new(addr)?, command),
        None => offline(dir, command),
    }
}

fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    match file {
        None => std::io::stdin()
            .read_to_end(&mut data)
            .context("cannot read stdin")?,
        Some(path) if path == Path::new("-") => std::io::stdin()
            .read_to_end(&mut data)
            .context("cannot read stdin")?,
        Some(path) => {
            data =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            data.len()
        }
    };
    Ok(data)
}

fn write_stdout(data: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

fn online(client: &Client, command: BlockCommand) -> anyhow::Result<()> {
    match command {
        BlockCommand::Put {
            file,
            cid_codec,
            mhtype,
        } => {
            let data = read_input(file.as_deref())?;
            // Refused here with the same error as offline, rather than by the API's body limit.
            if data.len() > switchboard_exchange::MAX_BLOCK_SIZE {
                return Err(switchboard_exchange::BlockError::TooLarge(data.len()).into());
            }
            let stat = client.block_put(data, &cid_codec.to_string(), &mhtype.to_string())?;
            outln!("{}", stat.key);
        }
        BlockCommand::Get { cid, timeout } => {
            write_stdout(&client.block_get(&cid, timeout.as_deref())?)?
        }
        BlockCommand::Stat { cid } => {
            let stat = client.block_stat(&cid)?;
            outln!("Key: {}\nSize: {}", stat.key, stat.size);
        }
        BlockCommand::Rm { cids } => {
            let mut failed = false;
            for line in client.block_rm(&cids)? {
                if line.error.is_empty() {
                    outln!("removed {}", line.hash);
                } else {
                    eprintln!("Error: {}: {}", line.hash, line.error);
                    failed = true;
                }
            }
            anyhow::ensure!(!failed, "some blocks were not removed");
        }
    }
    Ok(())
}

/// Without a daemon the repo's own blockstore answers; nothing is fetched from peers.
fn offline(dir: &Path, command: BlockCommand) -> anyhow::Result<()> {
    let repo = Repo::open(dir).map_err(|e| match e {
        RepoError::NotInitialized(_) => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context("no daemon is running and the repo cannot be opened"),
    })?;
    let store = repo.blockstore()?;
    match command {
        BlockCommand::Put {
            file,
            cid_codec,
            mhtype,
        } => {
            let block = Block::encode(cid_codec, mhtype, read_input(file.as_deref())?)?;
            store.put(&block)?;
            outln!("{}", block.cid());
        }
        BlockCommand::Get { cid, .. } => {
            let block = local(store.as_ref(), &cid)?;
            write_stdout(block.data())?;
        }
        BlockCommand::Stat { cid } => {
            let block = local(store.as_ref(), &cid)?;
            outln!("Key: {cid}\nSize: {}", block.data().len());
        }
        BlockCommand::Rm { cids } => {
            for cid in cids {
                anyhow::ensure!(store.remove(&cid)?, "{cid}: block not found");
                outln!("removed {cid}");
            }
        }
    }
    Ok(())
}

fn local(store: &dyn Blockstore, cid: &Cid) -> anyhow::Result<Block> {
    switchboard_exchange::check_cid(cid)?;
    store.get(cid)?.with_context(|| {
        format!("block {cid} is not in the repo (no daemon is running to fetch it)")
    })
}
