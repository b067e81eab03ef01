//! switchboard-daemon's integration tests: the `switchboard` binary as real child processes,
//! its RPC API, faults on real processes, relays, and mDNS, WebRTC and hole punching between
//! network namespaces.

mod blocks;
mod cli;
mod faults;
mod mdns;
mod relay;
mod rpc;
mod support;
mod webrtc;
