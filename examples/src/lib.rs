//! The seed document's scenarios as short programs; see this crate's `examples/`:
//! `direct_dial` (two daemons, one dials the other by multiaddr) and `discover_localhost` (two
//! daemons find each other with mDNS).
