//! switchboard-node's integration tests: in-process nodes on loopback, the `switchboard` binary
//! as real child processes, and mDNS between network namespaces.

mod blocks;
mod cli;
mod faults;
mod helia;
mod helia_peer;
mod hostile;
mod keys;
mod lan;
mod limits;
mod mdns;
mod nodes;
mod preauth;
mod rpc;
mod support;
mod webrtc;
