use proptest::prelude::*;

use super::*;
use crate::expr::Atom;

fn ma(s: &str) -> Multiaddr {
    s.parse().expect("test multiaddr")
}

#[test]
fn first_matching_rule_decides() {
    let policy = Policy::new()
        .with_rule("lan: allow ip 198.18.0.0/15".parse().expect("rule"))
        .with_rule("no-ws: deny websocket".parse().expect("rule"));
    assert!(
        policy
            .check(Scope::Dial, &ma("/ip4/198.18.0.1/tcp/1/ws"), None)
            .is_ok()
    );
    let denied = policy
        .check(Scope::Dial, &ma("/ip4/1.2.3.4/tcp/1/ws"), None)
        .unwrap_err();
    assert_eq!(denied.rule(), "no-ws");
    assert_eq!(
        denied.to_string(),
        "dial /ip4/1.2.3.4/tcp/1/ws denied by filter rule `no-ws`"
    );
    assert!(
        policy
            .check(Scope::Dial, &ma("/ip4/1.2.3.4/tcp/1"), None)
            .is_ok()
    );
}

#[test]
fn default_deny_names_default() {
    let policy = Policy::new()
        .with_default(Action::Deny)
        .with_rule("allow loopback".parse().expect("rule"));
    assert!(
        policy
            .check(Scope::Inbound, &ma("/ip4/127.0.0.1/tcp/1"), None)
            .is_ok()
    );
    let denied = policy
        .check(Scope::Inbound, &ma("/ip4/1.2.3.4/tcp/1"), None)
        .unwrap_err();
    assert_eq!(denied.rule(), "default");
}

#[test]
fn scoped_rules_only_apply_in_their_scope() {
    let rule: Rule = "deny on dial,advertise proto quic-v1"
        .parse()
        .expect("rule");
    let policy = Policy::new().with_rule(rule);
    let quic = ma("/ip4/1.2.3.4/udp/1/quic-v1");
    assert!(policy.check(Scope::Dial, &quic, None).is_err());
    assert!(policy.check(Scope::Advertise, &quic, None).is_err());
    assert!(policy.check(Scope::Inbound, &quic, None).is_ok());
}

#[test]
fn unnamed_rule_is_named_by_its_text() {
    let rule: Rule = "deny  not   loopback".parse().expect("rule");
    assert_eq!(rule.name(), "deny not loopback");
}

#[test]
fn peer_rules_defer_until_the_peer_is_known() {
    let peer = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id();
    let policy = Policy::new()
        .with_default(Action::Deny)
        .with_rule(Rule::new(Action::Allow, Atom::Peer(peer).into()).with_name("friend"));
    let addr = ma("/ip4/1.2.3.4/tcp/1");
    assert_eq!(
        policy.decide(Scope::Inbound, &addr, None),
        Decision::Undecided
    );
    assert!(policy.check(Scope::Inbound, &addr, None).is_ok());
    assert!(policy.check(Scope::Inbound, &addr, Some(peer)).is_ok());
    let stranger = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id();
    assert_eq!(
        policy
            .check(Scope::Inbound, &addr, Some(stranger))
            .unwrap_err()
            .rule(),
        "default"
    );
}

#[test]
fn rule_text_errors() {
    assert!(matches!(
        "permit ws".parse::<Rule>(),
        Err(ParseError::Unexpected { .. })
    ));
    assert!(matches!(
        "bad name!: deny ws".parse::<Rule>(),
        Err(ParseError::Unexpected { .. })
    ));
    assert!(matches!(
        "b@d: deny ws".parse::<Rule>(),
        Err(ParseError::Name(_))
    ));
    assert!(matches!(
        "deny on everywhere ws".parse::<Rule>(),
        Err(ParseError::Unexpected { .. })
    ));
}

#[test]
fn policy_reads_from_toml() {
    #[derive(serde::Deserialize)]
    struct Config {
        filters: Policy,
    }
    let config: Config = toml::from_str(
        r#"
        [filters]
        default = "allow"
        rules = ["local-ws: deny on dial websocket and not loopback", "deny ip 10.0.0.0/8"]
        "#,
    )
    .expect("valid config");
    assert_eq!(config.filters.rules().len(), 2);
    assert_eq!(config.filters.rules()[0].name(), "local-ws");
    let bad = toml::from_str::<Config>("[filters]\nrules = [\"deny ip 10.0.0.0/99\"]");
    assert!(
        bad.err()
            .expect("rejected")
            .to_string()
            .contains("10.0.0.0/99")
    );
}

fn rule_text() -> impl Strategy<Value = String> {
    let exprs = prop::sample::select(vec![
        "websocket",
        "not loopback",
        "ip 10.0.0.0/8 or ip ::1",
        "proto quic-v1 and port 4001",
        "wss and dns",
        "any",
        "not (ws or private)",
    ]);
    let scopes = prop::sample::select(vec!["", "on dial ", "on inbound,advertise "]);
    (any::<bool>(), scopes, exprs).prop_map(|(allow, scope, e)| {
        format!("{} {scope}{e}", if allow { "allow" } else { "deny" })
    })
}

fn addr() -> impl Strategy<Value = Multiaddr> {
    prop::sample::select(vec![
        "/ip4/127.0.0.1/tcp/4001",
        "/ip4/10.2.3.4/tcp/80/ws",
        "/ip6/::1/udp/4001/quic-v1",
        "/dns4/example.com/tcp/443/wss",
        "/ip4/8.8.8.8/tcp/443/tls/ws",
        "/ip4/198.18.0.1/udp/4001/quic-v1",
    ])
    .prop_map(ma)
}

fn scope() -> impl Strategy<Value = Scope> {
    prop::sample::select(vec![Scope::Dial, Scope::Inbound, Scope::Advertise])
}

proptest! {
    #[test]
    fn rules_round_trip_through_text(text in rule_text()) {
        let rule: Rule = text.parse().expect("generated rule parses");
        prop_assert_eq!(rule.to_string().parse::<Rule>(), Ok(rule));
    }

    /// Rules appended after the deciding rule change nothing.
    #[test]
    fn later_rules_never_override(rules in prop::collection::vec(rule_text(), 0..6),
                                  extra in rule_text(), a in addr(), s in scope()) {
        let rules: Vec<Rule> = rules.iter().map(|t| t.parse().expect("rule")).collect();
        let policy = Policy::new().with_rules(rules);
        let extended = policy.clone().with_rule(extra.parse().expect("rule"));
        match policy.decide(s, &a, None) {
            Decision::Allow(Some(r)) => prop_assert_eq!(extended.decide(s, &a, None), Decision::Allow(Some(r))),
            Decision::Deny(Some(r)) => prop_assert_eq!(extended.decide(s, &a, None), Decision::Deny(Some(r))),
            _ => {}
        }
    }

    /// A denial names a rule of the policy that applies in the scope and matches the address.
    #[test]
    fn denial_names_a_matching_rule(rules in prop::collection::vec(rule_text(), 0..6),
                                    a in addr(), s in scope()) {
        let rules: Vec<Rule> = rules.iter().map(|t| t.parse().expect("rule")).collect();
        let policy = Policy::new().with_rules(rules);
        if let Err(denied) = policy.check(s, &a, None) {
            let rule = policy.rules().iter().find(|r| r.name() == denied.rule()).expect("named rule exists");
            prop_assert!(rule.applies_to(s));
            prop_assert_eq!(rule.action(), Action::Deny);
            prop_assert!(rule.expr().matches(&a));
        }
    }
}
