//! The environment as the library sees it: a lookup handed in by whoever
//! builds the [`crate::context::Context`], never the process's variables
//! read behind its back.
//!
//! The CLI builds [`Env::process`] once; tests and the demo build
//! [`Env::from_pairs`] with exactly the variables they mean, so no test needs
//! `std::env::set_var` and two tests in one binary never see each other's
//! settings.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

/// A read-only environment lookup; cheap to clone.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values can be secrets (ACTIONS_ID_TOKEN_REQUEST_TOKEN): never shown.
        f.write_str("Env(..)")
    }
}

impl Env {
    /// The process's environment, read at each lookup.
    pub fn process() -> Env {
        Env(Arc::new(|name| std::env::var_os(name)))
    }

    /// Exactly these variables, nothing else.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Env
    where
        K: Into<String>,
        V: AsRef<OsStr>,
    {
        let map: HashMap<String, OsString> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.as_ref().to_owned()))
            .collect();
        Env(Arc::new(move |name| map.get(name).cloned()))
    }

    /// An environment with no variables.
    pub fn empty() -> Env {
        Env::from_pairs(std::iter::empty::<(String, OsString)>())
    }

    /// `self` with `pairs` set on top (a value of `None` unsets the name).
    pub fn with<K, V>(&self, pairs: impl IntoIterator<Item = (K, Option<V>)>) -> Env
    where
        K: Into<String>,
        V: AsRef<OsStr>,
    {
        let over: HashMap<String, Option<OsString>> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.map(|v| v.as_ref().to_owned())))
            .collect();
        let base = self.clone();
        Env(Arc::new(move |name| match over.get(name) {
            Some(value) => value.clone(),
            None => base.var_os(name),
        }))
    }

    /// The raw value of `name`.
    pub fn var_os(&self, name: &str) -> Option<OsString> {
        (self.0)(name)
    }

    /// The value of `name` if it is set and UTF-8 (empty included).
    pub fn var(&self, name: &str) -> Option<String> {
        self.var_os(name).and_then(|v| v.into_string().ok())
    }

    /// The value of `name` if it is set, UTF-8 and not empty.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
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
