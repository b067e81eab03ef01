//! Defines the `wasm_browser` cfg: wasm32 without an OS underneath (a web page, not WASI).

fn main() {
    cfg_aliases::cfg_aliases! { wasm_browser: { all(target_family = "wasm", target_os = "unknown") } }
}
