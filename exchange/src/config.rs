//! The exchange's limits and timeouts.

use std::time::Duration;

/// Limits and timeouts of the Bitswap [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) block_timeout: Duration,
    pub(crate) rebroadcast: Duration,
    pub(crate) max_wants_per_peer: usize,
    pub(crate) max_requests_per_peer: usize,
    pub(crate) max_strikes: u32,
    pub(crate) max_in_flight_bytes: usize,
    pub(crate) target_message_size: usize,
    pub(crate) inline_block_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The defaults:
    /// - a peer asked for a block has 10 s to send it before the next provider is asked;
    /// - want-have is sent again to every peer every 5 s while nobody has the block;
    /// - at most 1024 entries are kept per peer (as boxo's wantlist limit): its wants for blocks
    ///   we lack, the blocks queued for it and the HAVE / DONT_HAVE answers not sent yet; a want
    ///   repeated is one entry, and wants past the limit are ignored (and punished);
    /// - at most 16 blocks are requested of one peer at a time;
    /// - a peer is dropped after 3 strikes (unwanted blocks, malformed messages, floods);
    /// - at most 8 MiB of answers are in flight to one peer;
    /// - answers are packed into messages of about 1 MiB (a larger block goes alone);
    /// - a want-have for a block under 1024 bytes is answered with the block, as boxo and Helia.
    pub fn new() -> Self {
        Self {
            block_timeout: Duration::from_secs(10),
            rebroadcast: Duration::from_secs(5),
            max_wants_per_peer: 1024,
            max_requests_per_peer: 16,
            max_strikes: 3,
            max_in_flight_bytes: 8 * 1024 * 1024,
            target_message_size: 1024 * 1024,
            inline_block_size: 1024,
        }
    }

    /// How long a peer asked for a block has before the next provider is asked.
    pub fn with_block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = timeout;
        self
    }

    /// How often want-have is sent again while no peer has a wanted block.
    pub fn with_rebroadcast(mut self, interval: Duration) -> Self {
        self.rebroadcast = interval;
        self
    }

    /// How many entries (wants, queued blocks, unsent presences) are kept per peer.
    pub fn with_max_wants_per_peer(mut self, max: usize) -> Self {
        self.max_wants_per_peer = max;
        self
    }

    /// How many blocks may be requested of one peer at a time.
    pub fn with_max_requests_per_peer(mut self, max: usize) -> Self {
        self.max_requests_per_peer = max.max(1);
        self
    }

    /// How many answer bytes may be in flight to one peer.
    pub fn with_max_in_flight_bytes(mut self, max: usize) -> Self {
        self.max_in_flight_bytes = max;
        self
    }
}
