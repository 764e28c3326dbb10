//! The environment as the library sees it: a lookup handed in by whoever
//! builds the [`crate::context::Context`], never the process's variables
//! read behind its back.
//!
//! The CLI builds [`Env::process`] once, a copy taken at start; tests and the demo build
//! [`Env::from_pairs`] with exactly the variables they mean, so no test needs
//! `std::env::set_var` and two tests in one binary never see each other's
//! settings.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

/// A read-only environment: the variables by name; cheap to clone.
///
/// It is a map rather than a live lookup so that a child process (a CI's
/// token command) can be given exactly this environment.
#[derive(Clone, Default)]
pub struct Env(Arc<HashMap<String, OsString>>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values can be secrets (ACTIONS_ID_TOKEN_REQUEST_TOKEN): never shown.
        f.write_str("Env(..)")
    }
}

impl Env {
    /// The process's environment, as it is now (names that are not UTF-8
    /// are left out).
    pub fn process() -> Env {
        Env::from_pairs(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// Exactly these variables, nothing else.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Env
    where
        K: Into<String>,
        V: AsRef<OsStr>,
    {
        Env(Arc::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.as_ref().to_owned()))
                .collect(),
        ))
    }

    /// An environment with no variables.
    pub fn empty() -> Env {
        Env::default()
    }

    /// `self` with `pairs` set on top (a value of `None` unsets the name).
    pub fn with<K, V>(&self, pairs: impl IntoIterator<Item = (K, Option<V>)>) -> Env
    where
        K: Into<String>,
        V: AsRef<OsStr>,
    {
        let mut map = (*self.0).clone();
        for (k, v) in pairs {
            match v {
                Some(v) => map.insert(k.into(), v.as_ref().to_owned()),
                None => map.remove(&k.into()),
            };
        }
        Env(Arc::new(map))
    }

    /// The raw value of `name`.
    pub fn var_os(&self, name: &str) -> Option<OsString> {
        self.0.get(name).cloned()
    }

    /// The value of `name` if it is set and UTF-8 (empty included).
    pub fn var(&self, name: &str) -> Option<String> {
        self.var_os(name).and_then(|v| v.into_string().ok())
    }

    /// The value of `name` if it is set, UTF-8 and not empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }

    /// Every variable whose value is UTF-8, for a child process's environment.
    pub fn utf8_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::Env;

    #[test]
    fn a_map_env_holds_only_its_pairs_and_overrides_layer() {
        let env = Env::from_pairs([("A", "1"), ("EMPTY", "")]);
        assert_eq!(env.var("A").as_deref(), Some("1"));
        assert_eq!(env.var("EMPTY").as_deref(), Some(""));
        assert_eq!(env.non_empty("EMPTY"), None);
        assert_eq!(env.var("PATH"), None);
        let over = env.with([("A", None), ("B", Some("2"))]);
        assert_eq!(over.var("A"), None);
        assert_eq!(over.var("B").as_deref(), Some("2"));
        assert_eq!(env.var("B"), None);
        assert_eq!(format!("{env:?}"), "Env(..)");
    }
}
