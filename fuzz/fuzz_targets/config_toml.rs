//! `config.toml` as an operator writes it: parsing never panics, and a config that parses
//! writes back to one that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_node::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = toml::from_str::<Config>(text) {
        let written = toml::to_string(&config).expect("a parsed config serialises");
        assert_eq!(
            toml::from_str::<Config>(&written).expect("reparses"),
            config
        );
    }
});
