//! switchboard-node's integration tests: in-process nodes on loopback (TCP, QUIC, ws), peers
//! that misbehave, and Helia as a real third-party peer.

mod blocks;
mod helia;
mod hostile;
mod keys;
mod limits;
mod nodes;
mod preauth;
mod relay;
mod runtimes;
mod webrtc;
