//! Filter rules as an operator or a config file writes them, and multiaddrs as peers send them:
//! parsing never panics, a parsed rule prints back to itself, and evaluating it on any address
//! is decided.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libp2p::Multiaddr;
use switchboard_filters::{Policy, Rule, Scope};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (text, addr) = data.split_at(split);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let addrs: Vec<Multiaddr> = [
        Multiaddr::try_from(addr.get(1..).unwrap_or_default().to_vec()).ok(),
        "/ip6/::ffff:127.0.0.1/tcp/4001/ws".parse().ok(),
        "/ip4/198.18.0.1/udp/4001/quic-v1".parse().ok(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Ok(rule) = text.parse::<Rule>() {
        let printed = rule.to_string();
        assert_eq!(
            printed.parse::<Rule>().ok().as_ref(),
            Some(&rule),
            "{printed}"
        );
        let policy = Policy::new().with_rule(rule);
        for addr in &addrs {
            for scope in [Scope::Dial, Scope::Inbound, Scope::Advertise] {
                let _ = policy.check(scope, addr, None);
            }
        }
    }
});
