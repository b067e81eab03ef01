//! js-libp2p's websocket dial filters (`@libp2p/websockets/filters`).

use std::fmt;
use std::str::FromStr;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::expr::{Atom, Expr};

/// Which websocket addresses a websocket transport may dial, as in js-libp2p.
///
/// Every filter refuses relayed (`/p2p-circuit`) addresses and ignores a trailing `/p2p/…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Filter {
    /// Every `ws` and `wss` address, insecure `ws` to an IP included.
    All,
    /// Secure websockets only (`/wss`, `/tls/ws`).
    Wss,
    /// Secure websockets to DNS names only.
    DnsWss,
    /// Websockets, secure or not, to DNS names only.
    DnsWsOrWss,
}

/// A filter name that is not one of `all`, `wss`, `dns-wss`, `dns-ws-or-wss`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown websocket filter `{0}` (expected all, wss, dns-wss or dns-ws-or-wss)")]
pub struct UnknownFilter(String);

impl Filter {
    /// js `filters.all`.
    pub fn all() -> Self {
        Filter::All
    }

    /// js `filters.wss`.
    pub fn wss() -> Self {
        Filter::Wss
    }

    /// js `filters.dnsWss`.
    pub fn dns_wss() -> Self {
        Filter::DnsWss
    }

    /// js `filters.dnsWsOrWss`.
    pub fn dns_ws_or_wss() -> Self {
        Filter::DnsWsOrWss
    }

    /// The filter as a match expression.
    pub fn expr(&self) -> Expr {
        match self {
            Filter::All => Atom::Websocket.into(),
            Filter::Wss => Atom::Wss.into(),
            Filter::DnsWss => Expr::from(Atom::Dns).and(Atom::Wss.into()),
            Filter::DnsWsOrWss => Expr::from(Atom::Dns).and(Atom::Websocket.into()),
        }
    }

    /// Whether the filter keeps `addr`.
    pub fn matches(&self, addr: &Multiaddr) -> bool {
        self.expr().matches(addr)
    }

    /// The addresses the filter keeps, in order (js: `filter(multiaddrs)`).
    pub fn filter<'a>(&self, addrs: impl IntoIterator<Item = &'a Multiaddr>) -> Vec<Multiaddr> {
        let expr = self.expr();
        addrs
            .into_iter()
            .filter(|a| expr.matches(a))
            .cloned()
            .collect()
    }

    /// The filter's name: `all`, `wss`, `dns-wss` or `dns-ws-or-wss`.
    pub fn name(&self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Wss => "wss",
            Filter::DnsWss => "dns-wss",
            Filter::DnsWsOrWss => "dns-ws-or-wss",
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Filter {
    type Err = UnknownFilter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('_', "-").as_str() {
            "all" => Ok(Filter::All),
            "wss" => Ok(Filter::Wss),
            "dns-wss" => Ok(Filter::DnsWss),
            "dns-ws-or-wss" => Ok(Filter::DnsWsOrWss),
            _ => Err(UnknownFilter(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Filter {
    type Error = UnknownFilter;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Filter> for String {
    fn from(filter: Filter) -> Self {
        filter.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().expect("test multiaddr")
    }

    /// The cases of js-libp2p's `filters.spec.ts`, one expectation per filter.
    #[test]
    fn js_filter_semantics() {
        let peer = "/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK";
        let cases: &[(&str, [bool; 4])] = &[
            // (address, [all, wss, dns-wss, dns-ws-or-wss])
            ("/ip4/127.0.0.1/tcp/80/ws", [true, false, false, false]),
            ("/ip4/127.0.0.1/tcp/443/wss", [true, true, false, false]),
            ("/ip4/127.0.0.1/tcp/443/tls/ws", [true, true, false, false]),
            ("/ip6/::1/tcp/80/ws", [true, false, false, false]),
            ("/dns4/example.com/tcp/80/ws", [true, false, false, true]),
            ("/dns4/example.com/tcp/443/wss", [true, true, true, true]),
            (
                "/dns6/example.com/tcp/443/tls/sni/example.com/ws",
                [true, true, true, true],
            ),
            ("/dnsaddr/example.com/tcp/443/wss", [true, true, true, true]),
            ("/ip4/127.0.0.1/tcp/80", [false, false, false, false]),
            (
                "/ip4/127.0.0.1/udp/4001/quic-v1",
                [false, false, false, false],
            ),
            (
                "/ip4/127.0.0.1/tcp/80/ws/p2p-circuit",
                [false, false, false, false],
            ),
            (
                "/dns4/example.com/tcp/443/wss/p2p-circuit",
                [false, false, false, false],
            ),
        ];
        let filters = [
            Filter::all(),
            Filter::wss(),
            Filter::dns_wss(),
            Filter::dns_ws_or_wss(),
        ];
        for (addr, expected) in cases {
            for with_peer in [false, true] {
                let addr = if with_peer {
                    ma(&format!("{addr}{peer}"))
                } else {
                    ma(addr)
                };
                for (filter, expected) in filters.iter().zip(expected) {
                    assert_eq!(filter.matches(&addr), *expected, "{filter} on {addr}");
                }
            }
        }
    }

    #[test]
    fn filter_keeps_order() {
        let addrs = [
            ma("/ip4/1.2.3.4/tcp/1/wss"),
            ma("/ip4/1.2.3.4/tcp/2"),
            ma("/ip4/1.2.3.4/tcp/3/ws"),
        ];
        assert_eq!(
            Filter::all().filter(&addrs),
            vec![addrs[0].clone(), addrs[2].clone()]
        );
    }

    #[test]
    fn names_round_trip() {
        for f in [
            Filter::all(),
            Filter::wss(),
            Filter::dns_wss(),
            Filter::dns_ws_or_wss(),
        ] {
            assert_eq!(f.name().parse::<Filter>(), Ok(f));
        }
        assert_eq!("dns_wss".parse::<Filter>(), Ok(Filter::DnsWss));
        assert!("insecure".parse::<Filter>().is_err());
    }
}
