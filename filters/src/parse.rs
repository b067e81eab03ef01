//! The text form of expressions and rules, shared by the config file and the command line.
//!
//! ```text
//! rule   := [name ":"] ("allow" | "deny") ["on" scope ("," scope)*] expr
//! expr   := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" expr ")" | atom
//! atom   := "any" | "ws" | "wss" | "websocket" | "dns" | "loopback" | "private"
//!         | "ip" cidr | "proto" name | "port" n | "peer" peer-id | "addr" multiaddr
//! scope  := "dial" | "inbound" | "advertise"
//! ```

use std::iter::Peekable;
use std::str::FromStr;

use ipnet::IpNet;
use libp2p::{Multiaddr, PeerId};

use crate::expr::{Atom, Expr};
use crate::policy::{Action, Rule, Scope};

/// Why a rule or expression text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text ended where something else was expected.
    #[error("unexpected end of rule, expected {expected}")]
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
    },
    /// A word appeared where something else was expected.
    #[error("unexpected `{found}`, expected {expected}")]
    Unexpected {
        /// The word found.
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An `ip` argument was neither an IP address nor a CIDR range.
    #[error("`{0}` is not an IP address or CIDR range")]
    Cidr(String),
    /// A `port` argument was not a port number.
    #[error("`{0}` is not a port number")]
    Port(String),
    /// A `peer` argument was not a peer id.
    #[error("`{0}` is not a peer id")]
    PeerId(String),
    /// An `addr` argument was not a multiaddr.
    #[error("`{0}` is not a multiaddr")]
    Multiaddr(String),
    /// A `proto` argument named no multiaddr protocol.
    #[error("`{0}` is not a multiaddr protocol name")]
    Protocol(String),
    /// A rule name held characters other than letters, digits, `-`, `_` and `.`.
    #[error("`{0}` is not a rule name (letters, digits, `-`, `_`, `.`)")]
    Name(String),
}

/// Protocol names as `Protocol::tag` spells them.
const PROTOCOL_NAMES: &[&str] = &[
    "dccp",
    "dns",
    "dns4",
    "dns6",
    "dnsaddr",
    "http",
    "https",
    "ip4",
    "ip6",
    "p2p-webrtc-direct",
    "p2p-webrtc-star",
    "webrtc-direct",
    "certhash",
    "p2p-websocket-star",
    "memory",
    "onion",
    "onion3",
    "p2p",
    "p2p-circuit",
    "quic",
    "quic-v1",
    "sctp",
    "tcp",
    "tls",
    "noise",
    "udp",
    "udt",
    "unix",
    "utp",
    "webtransport",
    "ws",
    "x-parity-ws",
    "wss",
    "x-parity-wss",
    "ip6zone",
    "ipcidr",
    "garlic64",
    "garlic32",
    "sni",
    "p2p-stardust",
    "webrtc",
    "http-path",
];

type Tokens<'a> = Peekable<std::vec::IntoIter<&'a str>>;

fn tokenize(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let is_paren = c == '(' || c == ')';
        if c.is_whitespace() || is_paren {
            if let Some(s) = start.take() {
                tokens.push(&text[s..i]);
            }
            if is_paren {
                tokens.push(&text[i..i + 1]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(&text[s..]);
    }
    tokens
}

fn next<'a>(tokens: &mut Tokens<'a>, expected: &'static str) -> Result<&'a str, ParseError> {
    tokens.next().ok_or(ParseError::UnexpectedEnd { expected })
}

fn parse_or(tokens: &mut Tokens<'_>) -> Result<Expr, ParseError> {
    let mut lhs = parse_and(tokens)?;
    while tokens.next_if_eq(&"or").is_some() {
        lhs = lhs.or(parse_and(tokens)?);
    }
    Ok(lhs)
}

fn parse_and(tokens: &mut Tokens<'_>) -> Result<Expr, ParseError> {
    let mut lhs = parse_unary(tokens)?;
    while tokens.next_if_eq(&"and").is_some() {
        lhs = lhs.and(parse_unary(tokens)?);
    }
    Ok(lhs)
}

fn parse_unary(tokens: &mut Tokens<'_>) -> Result<Expr, ParseError> {
    const EXPECTED: &str = "`not`, `(` or a test such as `ws`, `loopback` or `ip <cidr>`";
    let word = next(tokens, EXPECTED)?;
    let atom = match word {
        "not" => return Ok(parse_unary(tokens)?.not()),
        "(" => {
            let inner = parse_or(tokens)?;
            return match next(tokens, "`)`")? {
                ")" => Ok(inner),
                found => Err(unexpected(found, "`)`")),
            };
        }
        "any" => Atom::Any,
        "ws" => Atom::Ws,
        "wss" => Atom::Wss,
        "websocket" => Atom::Websocket,
        "dns" => Atom::Dns,
        "loopback" => Atom::Loopback,
        "private" => Atom::Private,
        "ip" => {
            let arg = next(tokens, "an IP address or CIDR range")?;
            let net = IpNet::from_str(arg)
                .or_else(|_| arg.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ParseError::Cidr(arg.to_owned()))?;
            Atom::Ip(net)
        }
        "proto" => {
            let arg = next(tokens, "a protocol name")?;
            let name = PROTOCOL_NAMES
                .iter()
                .find(|n| **n == arg)
                .ok_or_else(|| ParseError::Protocol(arg.to_owned()))?;
            Atom::Proto(name)
        }
        "port" => {
            let arg = next(tokens, "a port number")?;
            Atom::Port(arg.parse().map_err(|_| ParseError::Port(arg.to_owned()))?)
        }
        "peer" => {
            let arg = next(tokens, "a peer id")?;
            Atom::Peer(PeerId::from_str(arg).map_err(|_| ParseError::PeerId(arg.to_owned()))?)
        }
        "addr" => {
            let arg = next(tokens, "a multiaddr")?;
            Atom::Prefix(
                Multiaddr::from_str(arg).map_err(|_| ParseError::Multiaddr(arg.to_owned()))?,
            )
        }
        found => return Err(unexpected(found, EXPECTED)),
    };
    Ok(Expr::Atom(atom))
}

fn unexpected(found: &str, expected: &'static str) -> ParseError {
    ParseError::Unexpected {
        found: found.to_owned(),
        expected,
    }
}

fn finish<T>(value: T, tokens: &mut Tokens<'_>) -> Result<T, ParseError> {
    match tokens.next() {
        None => Ok(value),
        Some(found) => Err(unexpected(found, "`and`, `or` or the end of the rule")),
    }
}

impl FromStr for Expr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut tokens = tokenize(s).into_iter().peekable();
        let expr = parse_or(&mut tokens)?;
        finish(expr, &mut tokens)
    }
}

impl FromStr for Rule {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut tokens = tokenize(s).into_iter().peekable();
        let mut word = next(&mut tokens, "`allow` or `deny`")?;
        let name = match word.strip_suffix(':') {
            Some(name) => {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    return Err(ParseError::Name(name.to_owned()));
                }
                word = next(&mut tokens, "`allow` or `deny`")?;
                Some(name.to_owned())
            }
            None => None,
        };
        let action = match word {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            found => return Err(unexpected(found, "`allow` or `deny`")),
        };
        let mut scopes = Vec::new();
        if tokens.next_if_eq(&"on").is_some() {
            let list = next(&mut tokens, "`dial`, `inbound` or `advertise`")?;
            for scope in list.split(',') {
                scopes.push(match scope {
                    "dial" => Scope::Dial,
                    "inbound" => Scope::Inbound,
                    "advertise" => Scope::Advertise,
                    found => return Err(unexpected(found, "`dial`, `inbound` or `advertise`")),
                });
            }
        }
        let expr = parse_or(&mut tokens)?;
        let rule = Rule::new(action, expr).with_scopes(scopes);
        let rule = match name {
            Some(name) => rule.with_name(name),
            None => rule,
        };
        finish(rule, &mut tokens)
    }
}
