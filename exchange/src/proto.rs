//! The generated Bitswap protobuf types (`cargo xtask proto`; never edit the generated file).
#![allow(unreachable_pub, missing_docs, clippy::all, clippy::pedantic)]

include!("proto/bitswap.message.pb.rs");
