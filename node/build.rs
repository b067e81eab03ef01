//! Defines the `wasm_browser` cfg (wasm32 without an OS underneath: a web page, not WASI) and
//! `mdns` (a native build with a socket provider for mDNS: tokio's or async-io's).

fn main() {
    cfg_aliases::cfg_aliases! {
        wasm_browser: { all(target_family = "wasm", target_os = "unknown") },
        mdns: { all(not(wasm_browser), any(feature = "tokio", feature = "async-io")) },
    }
}
