//! switchboard-daemon's integration tests: the `switchboard` binary as real child processes,
//! its RPC API, faults on real processes, and mDNS and WebRTC between network namespaces.

mod blocks;
mod cli;
mod faults;
mod mdns;
mod rpc;
mod support;
mod webrtc;
