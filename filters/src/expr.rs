//! Match expressions: predicates over one multiaddr, combined with `and`, `or` and `not`.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// What an expression is evaluated against: an address and, when known, the peer behind it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    addr: &'a Multiaddr,
    peer: Option<PeerId>,
}

impl<'a> Target<'a> {
    /// A target for `addr`. The peer is taken from a trailing `/p2p/…` when `peer` is `None`.
    pub fn new(addr: &'a Multiaddr, peer: Option<PeerId>) -> Self {
        let peer = peer.or_else(|| match addr.iter().last() {
            Some(Protocol::P2p(id)) => Some(id),
            _ => None,
        });
        Self { addr, peer }
    }

    /// The address.
    pub fn addr(&self) -> &'a Multiaddr {
        self.addr
    }

    /// The peer, if known.
    pub fn peer(&self) -> Option<PeerId> {
        self.peer
    }
}

/// Three-valued truth: a test on something not yet known (the peer of an inbound connection
/// before its handshake) is [`Truth::Unknown`], and `and` / `or` / `not` follow Kleene's logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truth {
    /// Definitely matches.
    True,
    /// Definitely does not match.
    False,
    /// Depends on something not known yet.
    Unknown,
}

impl Truth {
    fn not(self) -> Self {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    fn and(self, other: impl FnOnce() -> Truth) -> Self {
        match self {
            Truth::False => Truth::False,
            Truth::True => other(),
            Truth::Unknown => match other() {
                Truth::False => Truth::False,
                _ => Truth::Unknown,
            },
        }
    }

    fn or(self, other: impl FnOnce() -> Truth) -> Self {
        self.not().and(|| other().not()).not()
    }
}

impl From<bool> for Truth {
    fn from(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }
}

/// One predicate over a multiaddr. The text form of each is given in its doc.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Atom {
    /// `any`: every address.
    Any,
    /// `ws`: an insecure websocket address, `<ip4|ip6|dns…>/tcp/<port>/ws[/p2p/…]`, not relayed.
    Ws,
    /// `wss`: a secure websocket address, `…/tcp/<port>/wss`, `…/tls/ws` or `…/tls/sni/<host>/ws`.
    Wss,
    /// `websocket`: `ws or wss`.
    Websocket,
    /// `dns`: the host is a DNS name (`/dns`, `/dns4`, `/dns6` or `/dnsaddr`).
    Dns,
    /// `loopback`: the host is a loopback IP (127.0.0.0/8, ::1).
    Loopback,
    /// `private`: the host is an IP that is not globally routable: loopback, RFC 1918,
    /// link-local, shared (100.64.0.0/10), benchmarking (198.18.0.0/15), unspecified, unique-local
    /// IPv6 (fc00::/7) or link-local IPv6 (fe80::/10).
    Private,
    /// `ip <cidr>`: the host is an IP inside the range (`ip 10.0.0.0/8`, `ip ::1`).
    Ip(IpNet),
    /// `proto <name>`: the address contains the protocol of that name (`proto quic-v1`).
    Proto(&'static str),
    /// `port <n>`: the TCP or UDP port is `n`.
    Port(u16),
    /// `peer <id>`: the peer is `id` (from the connection, or the address's `/p2p`).
    Peer(PeerId),
    /// `addr <multiaddr>`: the address starts with these protocols (`addr /ip4/127.0.0.1/tcp/4001`).
    Prefix(Multiaddr),
}

/// A match expression: [`Atom`]s combined with `not`, `and` and `or` (tightest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A single predicate.
    Atom(Atom),
    /// `not e`.
    Not(Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// `not self`.
    #[allow(clippy::should_implement_trait)] // `!expr` would read as a bool, not a rule
    pub fn not(self) -> Self {
        Expr::Not(Box::new(self))
    }

    /// `self and other`.
    pub fn and(self, other: Expr) -> Self {
        Expr::And(Box::new(self), Box::new(other))
    }

    /// `self or other`.
    pub fn or(self, other: Expr) -> Self {
        Expr::Or(Box::new(self), Box::new(other))
    }

    /// Evaluates the expression against a target.
    pub fn eval(&self, target: &Target<'_>) -> Truth {
        match self {
            Expr::Atom(atom) => atom.eval(target),
            Expr::Not(e) => e.eval(target).not(),
            Expr::And(a, b) => a.eval(target).and(|| b.eval(target)),
            Expr::Or(a, b) => a.eval(target).or(|| b.eval(target)),
        }
    }

    /// Whether the expression definitely matches `addr` (an unknown peer counts as no match).
    pub fn matches(&self, addr: &Multiaddr) -> bool {
        self.eval(&Target::new(addr, None)) == Truth::True
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(..) => 0,
            Expr::And(..) => 1,
            Expr::Not(_) | Expr::Atom(_) => 2,
        }
    }
}

impl From<Atom> for Expr {
    fn from(atom: Atom) -> Self {
        Expr::Atom(atom)
    }
}

impl Atom {
    fn eval(&self, target: &Target<'_>) -> Truth {
        let addr = target.addr;
        match self {
            Atom::Any => Truth::True,
            Atom::Ws => is_ws(addr).into(),
            Atom::Wss => is_wss(addr).into(),
            Atom::Websocket => (is_ws(addr) || is_wss(addr)).into(),
            Atom::Dns => matches!(
                addr.iter().next(),
                Some(
                    Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_)
                )
            )
            .into(),
            Atom::Loopback => host_ip(addr).is_some_and(|ip| ip.is_loopback()).into(),
            Atom::Private => host_ip(addr).is_some_and(is_private).into(),
            Atom::Ip(net) => host_ip(addr).is_some_and(|ip| net.contains(&ip)).into(),
            Atom::Proto(name) => addr.iter().any(|p| p.tag() == *name).into(),
            Atom::Port(port) => addr
                .iter()
                .any(|p| matches!(p, Protocol::Tcp(n) | Protocol::Udp(n) if n == *port))
                .into(),
            Atom::Peer(id) => match target.peer {
                Some(peer) => (peer == *id).into(),
                None => Truth::Unknown,
            },
            Atom::Prefix(prefix) => {
                let mut protocols = addr.iter();
                prefix.iter().all(|p| protocols.next() == Some(p)).into()
            }
        }
    }
}

/// The protocols of `addr` without a trailing `/p2p/…`, or `None` for a relayed address (which
/// js-libp2p's websocket filters never match).
fn direct_protocols(addr: &Multiaddr) -> Option<Vec<Protocol<'_>>> {
    let mut protocols: Vec<_> = addr.iter().collect();
    if protocols.contains(&Protocol::P2pCircuit) {
        return None;
    }
    if let Some(Protocol::P2p(_)) = protocols.last() {
        protocols.pop();
    }
    Some(protocols)
}

fn is_host(p: &Protocol<'_>) -> bool {
    matches!(
        p,
        Protocol::Ip4(_)
            | Protocol::Ip6(_)
            | Protocol::Dns(_)
            | Protocol::Dns4(_)
            | Protocol::Dns6(_)
            | Protocol::Dnsaddr(_)
    )
}

/// `<host>/tcp/<port>/ws` exactly, as js-libp2p's `WebSockets` matcher.
fn is_ws(addr: &Multiaddr) -> bool {
    match direct_protocols(addr).as_deref() {
        Some([host, Protocol::Tcp(_), Protocol::Ws(path)]) => is_host(host) && path == "/",
        _ => false,
    }
}

/// `<host>/tcp/<port>/wss`, `…/tls/ws` or `…/tls/sni/<name>/ws`, as js-libp2p's
/// `WebSocketsSecure` matcher.
fn is_wss(addr: &Multiaddr) -> bool {
    match direct_protocols(addr).as_deref() {
        Some([host, Protocol::Tcp(_), Protocol::Wss(path)])
        | Some([host, Protocol::Tcp(_), Protocol::Tls, Protocol::Ws(path)])
        | Some(
            [
                host,
                Protocol::Tcp(_),
                Protocol::Tls,
                Protocol::Sni(_),
                Protocol::Ws(path),
            ],
        ) => is_host(host) && path == "/",
        _ => false,
    }
}

/// The address's host IP. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, as a dual-stack
/// socket reports an IPv4 peer) is the IPv4 address it carries, so `loopback` and
/// `ip 127.0.0.0/8` see it for what it is.
fn host_ip(addr: &Multiaddr) -> Option<IpAddr> {
    match addr.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        }),
        _ => None,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Any => f.write_str("any"),
            Atom::Ws => f.write_str("ws"),
            Atom::Wss => f.write_str("wss"),
            Atom::Websocket => f.write_str("websocket"),
            Atom::Dns => f.write_str("dns"),
            Atom::Loopback => f.write_str("loopback"),
            Atom::Private => f.write_str("private"),
            Atom::Ip(net) => write!(f, "ip {net}"),
            Atom::Proto(name) => write!(f, "proto {name}"),
            Atom::Port(port) => write!(f, "port {port}"),
            Atom::Peer(id) => write!(f, "peer {id}"),
            Atom::Prefix(addr) => write!(f, "addr {addr}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left operands need parentheses when they bind more loosely; right operands also when
        // they bind equally, because the parser associates to the left.
        let side = |f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool| {
            if parens {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        };
        match self {
            Expr::Atom(atom) => write!(f, "{atom}"),
            Expr::Not(e) => {
                f.write_str("not ")?;
                side(f, e, e.precedence() < 2)
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                let p = self.precedence();
                side(f, a, a.precedence() < p)?;
                f.write_str(if p == 0 { " or " } else { " and " })?;
                side(f, b, b.precedence() <= p)
            }
        }
    }
}

#[cfg(test)]
mod tests;
