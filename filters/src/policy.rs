//! Ordered allow/deny rules and the decision they reach for an address.

use std::fmt;
use std::str::FromStr;

use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::expr::{Expr, Target, Truth};
use crate::parse::ParseError;

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the address through.
    Allow,
    /// Refuse the address.
    Deny,
}

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Outgoing dials.
    Dial,
    /// Incoming connections (checked on arrival, and again once the peer is authenticated).
    Inbound,
    /// The addresses the node advertises to others.
    Advertise,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Dial => "dial",
            Scope::Inbound => "inbound",
            Scope::Advertise => "advertise",
        })
    }
}

/// One named rule: an action taken when its expression matches, in some scopes.
///
/// The text form is `[name:] allow|deny [on dial,inbound,advertise] <expr>`; a rule without a
/// name is named by its text, and a rule without `on` applies in every scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rule {
    name: Option<String>,
    action: Action,
    scopes: Vec<Scope>,
    expr: Expr,
}

impl Rule {
    /// A rule that takes `action` on addresses matching `expr`, in every scope, unnamed.
    pub fn new(action: Action, expr: Expr) -> Self {
        Self {
            name: None,
            action,
            scopes: Vec::new(),
            expr,
        }
    }

    /// Names the rule; denials report this name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Limits the rule to these scopes (empty: every scope).
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes = scopes.into_iter().collect();
        self.scopes.dedup();
        self
    }

    /// The rule's name, or its text when it has none.
    pub fn name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.to_string(),
        }
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the rule applies in `scope`.
    pub fn applies_to(&self, scope: Scope) -> bool {
        self.scopes.is_empty() || self.scopes.contains(&scope)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name}: ")?;
        }
        f.write_str(match self.action {
            Action::Allow => "allow ",
            Action::Deny => "deny ",
        })?;
        if !self.scopes.is_empty() {
            let scopes: Vec<_> = self.scopes.iter().map(Scope::to_string).collect();
            write!(f, "on {} ", scopes.join(","))?;
        }
        write!(f, "{}", self.expr)
    }
}

impl TryFrom<String> for Rule {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Rule::from_str(&s)
    }
}

impl From<Rule> for String {
    fn from(rule: Rule) -> Self {
        rule.to_string()
    }
}

/// The outcome of checking an address against a [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Allowed, by this rule or (`None`) by the default.
    Allow(Option<&'a Rule>),
    /// Denied, by this rule or (`None`) by the default.
    Deny(Option<&'a Rule>),
    /// A rule's match depends on the peer, which is not known yet: check again when it is.
    Undecided,
}

/// An address refused by a [`Policy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {} denied by filter rule `{}`", .0.scope, .0.addr, .0.rule)]
pub struct Denied(Box<DeniedInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct DeniedInner {
    rule: String,
    scope: Scope,
    addr: Multiaddr,
    peer: Option<PeerId>,
}

impl Denied {
    /// The name of the rule that denied, or `default` for the policy's default.
    pub fn rule(&self) -> &str {
        &self.0.rule
    }

    /// Where the address was denied.
    pub fn scope(&self) -> Scope {
        self.0.scope
    }

    /// The denied address.
    pub fn addr(&self) -> &Multiaddr {
        &self.0.addr
    }

    /// The peer, if known.
    pub fn peer(&self) -> Option<PeerId> {
        self.0.peer
    }
}

/// Ordered rules and a default action: the first rule whose expression matches decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    default: Action,
    rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// An empty policy that allows everything.
    ///
    /// Defaults: no rules, default action [`Action::Allow`].
    pub fn new() -> Self {
        Self {
            default: Action::Allow,
            rules: Vec::new(),
        }
    }

    /// Sets the action taken when no rule matches.
    pub fn with_default(mut self, action: Action) -> Self {
        self.default = action;
        self
    }

    /// Appends a rule; earlier rules take precedence.
    pub fn with_rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Appends rules; earlier rules take precedence.
    pub fn with_rules(mut self, rules: impl IntoIterator<Item = Rule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The default action.
    pub fn default_action(&self) -> Action {
        self.default
    }

    /// Decides `addr` (with `peer`, when known) in `scope`.
    pub fn decide(&self, scope: Scope, addr: &Multiaddr, peer: Option<PeerId>) -> Decision<'_> {
        let target = Target::new(addr, peer);
        for rule in self.rules.iter().filter(|r| r.applies_to(scope)) {
            match rule.expr.eval(&target) {
                Truth::True => {
                    return match rule.action {
                        Action::Allow => Decision::Allow(Some(rule)),
                        Action::Deny => Decision::Deny(Some(rule)),
                    };
                }
                Truth::Unknown => return Decision::Undecided,
                Truth::False => {}
            }
        }
        match self.default {
            Action::Allow => Decision::Allow(None),
            Action::Deny => Decision::Deny(None),
        }
    }

    /// `Ok` unless `addr` is definitely denied in `scope`; an undecided address passes, to be
    /// checked again once its peer is known.
    pub fn check(
        &self,
        scope: Scope,
        addr: &Multiaddr,
        peer: Option<PeerId>,
    ) -> Result<(), Denied> {
        match self.decide(scope, addr, peer) {
            Decision::Allow(_) | Decision::Undecided => Ok(()),
            Decision::Deny(rule) => Err(Denied(Box::new(DeniedInner {
                rule: rule.map_or_else(|| "default".to_owned(), Rule::name),
                scope,
                addr: addr.clone(),
                peer: Target::new(addr, peer).peer(),
            }))),
        }
    }
}

#[cfg(test)]
mod tests;
