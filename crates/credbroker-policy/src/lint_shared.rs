//! What GitHub's rules ([`super::lint`]) and every other issuer's
//! ([`super::lint_issuer`]) share: how a finding is reported, which
//! conditions admit, and the placeholders of unresolved expressions. Kept
//! apart so that neither rule set imports the other.

use super::condition::{Base, Condition};
use super::finding::Severity;
use super::input::Anchor;

pub(super) type Report<'r> = dyn FnMut(&'static str, Severity, &[Anchor<'_>], String) + 'r;

pub(super) fn positive(c: &Condition) -> bool {
    !c.operator.negated() && c.operator.base != Base::Null
}

/// The placeholders of unresolved expressions. A rule on a value holding
/// one fires only when it holds whatever the expression's value: with it
/// replaced by a plain name, by a wildcard, and by an immutable-form id.
pub(super) struct Opaque<'p>(pub(super) Vec<&'p str>);

impl Opaque<'_> {
    pub(super) fn holds(&self, value: &str, rule: impl Fn(&str) -> bool) -> bool {
        if !self.0.iter().any(|p| value.contains(p)) {
            return rule(value);
        }
        ["x", "*", "x@1"].iter().all(|stand_in| {
            let v = self
                .0
                .iter()
                .fold(value.to_string(), |v, p| v.replace(p, stand_in));
            rule(&v)
        })
    }

    pub(super) fn any(&self, value: &str) -> bool {
        self.0.iter().any(|p| value.contains(p))
    }
}
