//! The repo directory: identity, `config.toml`, the `/wss` certificate, the `api` file and an
//! exclusive lock, like Kubo's `~/.ipfs`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use libp2p::Multiaddr;
use libp2p::identity::Keypair;
use std::sync::{Arc, OnceLock};

use switchboard_exchange::{Blockstore, FlatBlockstore, RedbBlockstore};
use switchboard_transport::{Certificate, CertificateError};
#[cfg(feature = "tokio")]
use switchboard_transport::{WebRtcCertificate, WebRtcCertificateError};

use crate::config::{Config, InitProfile};

const IDENTITY: &str = "identity.key";
const CONFIG: &str = "config.toml";
const LOCK: &str = "repo.lock";
const API: &str = "api";
/// The WebRTC-direct certificate and key, in the directory of the `/wss` ones.
#[cfg(feature = "tokio")]
const WEBRTC_CERTIFICATE: &str = "tls/webrtc.pem";
const BLOCKS: &str = "blocks";
/// The blockstore of repos made before the flat store; still opened when it is there.
const LEGACY_BLOCKS: &str = "blocks.redb";

/// Why a repo could not be created, opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// `init` on a directory that already holds a repo.
    #[error("a repo already exists at {0}")]
    AlreadyInitialized(PathBuf),
    /// The directory holds no repo.
    #[error("no repo at {0} (run `switchboard init` first)")]
    NotInitialized(PathBuf),
    /// Another process (a running daemon) holds the repo's lock.
    #[error("repo {0} is locked by another process (is a daemon already running on it?)")]
    Locked(PathBuf),
    /// The identity file is unreadable or not a keypair.
    #[error("corrupt identity in {path}: {reason}")]
    Identity {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `config.toml` is not valid.
    #[error("invalid config {path}, line {line} `{text}`: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The line (from 1) where the problem is.
        line: usize,
        /// That line's text.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// The config has no such key.
    #[error("no config key `{0}`")]
    ConfigKey(String),
    /// The value does not fit the key.
    #[error("invalid value for `{key}`: {message}")]
    ConfigValue {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The `/wss` certificate could not be read or generated.
    #[error("certificate in repo {path}")]
    Certificate {
        /// The repo.
        path: PathBuf,
        /// The cause.
        #[source]
        source: CertificateError,
    },
    /// The WebRTC-direct certificate could not be read or generated.
    #[cfg(feature = "tokio")]
    #[error("WebRTC certificate {path}")]
    WebRtcCertificate {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: WebRtcCertificateError,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An open repo. Holding it holds the repo's exclusive lock; dropping it releases the lock.
pub struct Repo {
    path: PathBuf,
    keypair: Keypair,
    config: Config,
    blockstore: OnceLock<Arc<dyn Blockstore>>,
    _lock: File,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Repo {
    /// Creates a repo at `path` (the directory may exist but must hold no repo): a new ed25519
    /// identity, `config.toml` for `profile` and a self-signed `/wss` certificate.
    pub fn init(path: impl Into<PathBuf>, profile: InitProfile) -> Result<Self, RepoError> {
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        let lock = lock(&path)?;
        if path.join(CONFIG).exists() || path.join(IDENTITY).exists() {
            return Err(RepoError::AlreadyInitialized(path));
        }
        let keypair = Keypair::generate_ed25519();
        let encoded = keypair
            .to_protobuf_encoding()
            .map_err(|e| RepoError::Identity {
                path: path.join(IDENTITY),
                reason: e.to_string(),
            })?;
        let config = Config::for_profile(profile);
        let text = toml::to_string_pretty(&config).expect("the config type always serialises");
        // The identity goes last: a repo with a config but no identity is found corrupt rather
        // than silently given a new peer id.
        write_atomic(&path.join(CONFIG), text.as_bytes(), 0o644)?;
        write_atomic(&path.join(IDENTITY), &encoded, 0o600)?;
        let repo = Self {
            path,
            keypair,
            config,
            blockstore: OnceLock::new(),
            _lock: lock,
        };
        repo.certificate()?;
        #[cfg(feature = "tokio")]
        repo.webrtc_certificate()?;
        Ok(repo)
    }

    /// Opens and locks the repo at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, RepoError> {
        let path = path.into();
        if !path.join(CONFIG).exists() && !path.join(IDENTITY).exists() {
            return Err(RepoError::NotInitialized(path));
        }
        let lock = lock(&path)?;
        let identity = path.join(IDENTITY);
        let bytes = std::fs::read(&identity).map_err(|e| RepoError::Identity {
            path: identity.clone(),
            reason: e.to_string(),
        })?;
        let keypair = Keypair::from_protobuf_encoding(&bytes).map_err(|e| RepoError::Identity {
            path: identity,
            reason: e.to_string(),
        })?;
        let config_path = path.join(CONFIG);
        let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config = toml::from_str(&text).map_err(|e| config_error(config_path, &text, &e))?;
        Ok(Self {
            path,
            keypair,
            config,
            blockstore: OnceLock::new(),
            _lock: lock,
        })
    }

    /// The repo's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The node's identity.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The repo's blockstore, opened once per repo and shared: `blocks/`, a file per block
    /// laid out as Kubo's flatfs, or `blocks.redb` in a repo made before it.
    pub fn blockstore(&self) -> Result<Arc<dyn Blockstore>, RepoError> {
        if let Some(store) = self.blockstore.get() {
            return Ok(store.clone());
        }
        let (flat, legacy) = (self.path.join(BLOCKS), self.path.join(LEGACY_BLOCKS));
        let (opened, path) = if legacy.exists() && !flat.exists() {
            (
                RedbBlockstore::open(&legacy).map(|s| Arc::new(s) as Arc<dyn Blockstore>),
                legacy,
            )
        } else {
            (
                FlatBlockstore::open(&flat).map(|s| Arc::new(s) as Arc<dyn Blockstore>),
                flat,
            )
        };
        let store = opened.map_err(|e| RepoError::Io {
            path,
            source: std::io::Error::other(e),
        })?;
        Ok(self.blockstore.get_or_init(|| store).clone())
    }

    /// Changes the configuration and writes it back to `config.toml` (atomically).
    pub fn update_config(&mut self, change: impl FnOnce(&mut Config)) -> Result<(), RepoError> {
        let mut config = self.config.clone();
        change(&mut config);
        let text = toml::to_string_pretty(&config).expect("the config type always serialises");
        write_atomic(&self.path.join(CONFIG), text.as_bytes(), 0o644)?;
        self.config = config;
        Ok(())
    }

    /// The `/wss` certificate: the configured PEM files, generated self-signed for localhost,
    /// 127.0.0.1 and ::1 when both are missing.
    pub fn certificate(&self) -> Result<Certificate, RepoError> {
        let cert_path = self.path.join(&self.config.websocket.certificate);
        let key_path = self.path.join(&self.config.websocket.key);
        let wrap = |source| RepoError::Certificate {
            path: self.path.clone(),
            source,
        };
        if !cert_path.exists() && !key_path.exists() {
            let names = ["localhost", "127.0.0.1", "::1"].map(String::from);
            let cert = Certificate::self_signed(names).map_err(wrap)?;
            for (path, pem, mode) in [
                (&key_path, cert.key_pem(), 0o600),
                (&cert_path, cert.chain_pem(), 0o644),
            ] {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io(dir))?;
                }
                write_atomic(path, pem.as_bytes(), mode)?;
            }
            return Ok(cert);
        }
        Certificate::from_pem_files(&cert_path, &key_path).map_err(wrap)
    }

    /// The WebRTC-direct listener's certificate (`tls/webrtc.pem`, key included, mode 0600),
    /// generated when missing. Its hash is in the daemon's `/webrtc-direct/certhash/…`
    /// addresses, so keeping it keeps those addresses valid across restarts. (WebRTC-direct
    /// runs on tokio only: without the `tokio` feature the file is left alone.)
    #[cfg(feature = "tokio")]
    pub fn webrtc_certificate(&self) -> Result<WebRtcCertificate, RepoError> {
        let path = self.path.join(WEBRTC_CERTIFICATE);
        let wrap = |source| RepoError::WebRtcCertificate {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(pem) => WebRtcCertificate::from_pem(&pem).map_err(wrap),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let certificate = WebRtcCertificate::generate().map_err(wrap)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io(dir))?;
                }
                write_atomic(&path, certificate.to_pem().as_bytes(), 0o600)?;
                Ok(certificate)
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The PEM text of every certificate `[websocket] trust` lists.
    pub fn trusted_certificates(&self) -> Result<Vec<String>, RepoError> {
        self.config
            .websocket
            .trust
            .iter()
            .map(|p| {
                let path = self.path.join(p);
                std::fs::read_to_string(&path).map_err(io(&path))
            })
            .collect()
    }

    /// Records where the running daemon's RPC API listens, for clients.
    pub fn write_api_addr(&self, addr: &Multiaddr) -> Result<(), RepoError> {
        write_atomic(&self.path.join(API), addr.to_string().as_bytes(), 0o644)
    }

    /// Removes the `api` file when the daemon stops.
    pub fn remove_api_addr(&self) {
        // A missing file is what we want; any other error leaves a stale file that clients
        // report as "daemon not answering", which is accurate enough.
        let _ = std::fs::remove_file(self.path.join(API));
    }

    /// The value at a dotted `key` of `config.toml` (`discovery.mdns`), with defaults filled in.
    /// Reads without locking, like `ipfs config KEY`.
    pub fn config_value(path: &Path, key: &str) -> Result<toml::Value, RepoError> {
        let config_path = path.join(CONFIG);
        let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| config_error(config_path.clone(), &text, &e))?;
        let mut value = toml::Value::try_from(&config).expect("the config type always serialises");
        for part in key.split('.') {
            value = value
                .get(part)
                .cloned()
                .ok_or_else(|| RepoError::ConfigKey(key.to_owned()))?;
        }
        Ok(value)
    }

    /// Sets a dotted `key` of `config.toml` to `value`, refusing a value the daemon could not
    /// read back. Writes without locking (atomically), like `ipfs config KEY VALUE`; a running
    /// daemon sees the change when it restarts.
    pub fn set_config_value(path: &Path, key: &str, value: toml::Value) -> Result<(), RepoError> {
        let config_path = path.join(CONFIG);
        let text = std::fs::read_to_string(&config_path).map_err(io(&config_path))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| config_error(config_path.clone(), &text, &e))?;
        let mut root = toml::Value::try_from(&config).expect("the config type always serialises");
        let mut slot = &mut root;
        for part in key.split('.') {
            slot = slot
                .as_table_mut()
                .and_then(|t| t.get_mut(part))
                .ok_or_else(|| RepoError::ConfigKey(key.to_owned()))?;
        }
        *slot = value;
        let new_text = toml::to_string_pretty(&root).expect("a toml value always serialises");
        toml::from_str::<Config>(&new_text).map_err(|e| RepoError::ConfigValue {
            key: key.to_owned(),
            message: e.message().trim().to_owned(),
        })?;
        write_atomic(&config_path, new_text.as_bytes(), 0o644)
    }

    /// Where the daemon on the repo at `path` serves its RPC API, if one has said so. Reads
    /// without locking: clients use it while the daemon holds the lock.
    pub fn api_addr(path: &Path) -> Result<Option<Multiaddr>, RepoError> {
        let file = path.join(API);
        match std::fs::read_to_string(&file) {
            Ok(text) => text.trim().parse().map(Some).map_err(|e| RepoError::Io {
                path: file,
                source: std::io::Error::other(e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RepoError::Io {
                path: file,
                source: e,
            }),
        }
    }
}

/// A parse error as one line: where, the offending line, and what is wrong.
fn config_error(path: PathBuf, text: &str, error: &toml::de::Error) -> RepoError {
    let offset = error.span().map_or(0, |span| span.start);
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    let text = text.lines().nth(line - 1).unwrap_or("").trim().to_owned();
    RepoError::Config {
        path,
        line,
        text,
        message: error.message().trim().to_owned(),
    }
}

fn lock(path: &Path) -> Result<File, RepoError> {
    let lock_path = path.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(RepoError::Locked(path.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(RepoError::Io {
            path: lock_path,
            source: e,
        }),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file: a temporary
/// file in the same directory, fsynced, renamed over, and the directory fsynced.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RepoError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn identity_survives_reopen_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let peer = Repo::init(dir.path(), InitProfile::Test)
            .expect("init")
            .keypair()
            .public()
            .to_peer_id();
        let repo = Repo::open(dir.path()).expect("open");
        assert_eq!(repo.keypair().public().to_peer_id(), peer);
        let mode = std::fs::metadata(dir.path().join(IDENTITY))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!repo.config().discovery.mdns);
    }

    #[test]
    fn blocks_are_kept_in_flat_files_or_in_a_legacy_redb_file() {
        let block = switchboard_exchange::Block::encode(
            switchboard_exchange::Codec::Raw,
            switchboard_exchange::Hash::Sha2_256,
            &b"kept"[..],
        )
        .expect("block");
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(dir.path(), InitProfile::Test).expect("init");
        repo.blockstore().expect("store").put(&block).expect("put");
        assert!(dir.path().join(BLOCKS).join("SHARDING").exists());
        assert!(!dir.path().join(LEGACY_BLOCKS).exists());

        let old = tempfile::tempdir().expect("tempdir");
        drop(Repo::init(old.path(), InitProfile::Test).expect("init"));
        RedbBlockstore::open(&old.path().join(LEGACY_BLOCKS))
            .expect("redb")
            .put(&block)
            .expect("put");
        let repo = Repo::open(old.path()).expect("open");
        let store = repo.blockstore().expect("store");
        assert_eq!(store.get(block.cid()).expect("get"), Some(block));
        assert!(!old.path().join(BLOCKS).exists());
    }

    #[test]
    fn second_open_is_locked_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _repo = Repo::init(dir.path(), InitProfile::Test).expect("init");
        assert!(matches!(Repo::open(dir.path()), Err(RepoError::Locked(_))));
        assert!(matches!(
            Repo::init(dir.path(), InitProfile::Test),
            Err(RepoError::Locked(_))
        ));
    }

    #[test]
    fn init_twice_and_open_missing_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Repo::open(dir.path()),
            Err(RepoError::NotInitialized(_))
        ));
        drop(Repo::init(dir.path(), InitProfile::Test).expect("init"));
        assert!(matches!(
            Repo::init(dir.path(), InitProfile::Test),
            Err(RepoError::AlreadyInitialized(_))
        ));
    }

    #[test]
    fn corrupt_files_are_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Repo::init(dir.path(), InitProfile::Test).expect("init"));
        std::fs::write(dir.path().join(CONFIG), "[addresses\n").expect("write");
        assert!(matches!(
            Repo::open(dir.path()),
            Err(RepoError::Config { .. })
        ));
        std::fs::write(dir.path().join(IDENTITY), b"not a key").expect("write");
        assert!(matches!(
            Repo::open(dir.path()),
            Err(RepoError::Identity { .. })
        ));
        assert_eq!(
            std::fs::read(dir.path().join(IDENTITY)).expect("read"),
            b"not a key"
        );
    }

    #[test]
    fn config_values_are_read_set_and_validated() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Repo::init(dir.path(), InitProfile::Test).expect("init"));
        assert_eq!(
            Repo::config_value(dir.path(), "discovery.mdns").expect("get"),
            toml::Value::Boolean(false)
        );
        Repo::set_config_value(dir.path(), "discovery.mdns", toml::Value::Boolean(true))
            .expect("set");
        assert!(
            Repo::open(dir.path())
                .expect("open")
                .config()
                .discovery
                .mdns
        );
        let bad = Repo::set_config_value(
            dir.path(),
            "discovery.mdns",
            toml::Value::String("yes".into()),
        );
        assert!(matches!(bad, Err(RepoError::ConfigValue { .. })));
        let unknown =
            Repo::set_config_value(dir.path(), "discovery.nope", toml::Value::Boolean(true));
        assert!(matches!(unknown, Err(RepoError::ConfigKey(_))));
        assert!(
            Repo::open(dir.path())
                .expect("still readable")
                .config()
                .discovery
                .mdns
        );
    }

    #[test]
    #[cfg(feature = "tokio")]
    fn webrtc_certificate_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(dir.path(), InitProfile::Test).expect("init");
        let first = repo.webrtc_certificate().expect("cert");
        drop(repo);
        let repo = Repo::open(dir.path()).expect("open");
        assert_eq!(repo.webrtc_certificate().expect("cert"), first);
        let mode = std::fs::metadata(dir.path().join(WEBRTC_CERTIFICATE))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(WEBRTC_CERTIFICATE), "not pem").expect("write");
        assert!(matches!(
            repo.webrtc_certificate(),
            Err(RepoError::WebRtcCertificate { .. })
        ));
    }

    #[test]
    fn certificate_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(dir.path(), InitProfile::Test).expect("init");
        let first = repo.certificate().expect("cert");
        assert_eq!(
            repo.certificate().expect("cert").chain_pem(),
            first.chain_pem()
        );
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
