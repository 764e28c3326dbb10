//! Who the emulator's one user is and which accounts and roles they may use.
//!
//! IAM Identity Center answers `ListAccounts`, `ListAccountRoles` and
//! `GetRoleCredentials` from the user's assignments. The emulator keeps them
//! in a [`Directory`], read from a small TOML file or taken from the default
//! (a `dev` and a `prod` account), so a team can rehearse with the account
//! names it really has:
//!
//! ```toml
//! user = "dev@example.com"          # optional
//!
//! [[accounts]]
//! id = "111111111111"
//! name = "dev"
//! email = "aws+dev@example.com"     # optional
//! roles = ["ReadOnly", "Admin"]
//! ```
//!
//! Parsing is pure ([`Directory::parse`]); [`Directory::load`] adds the file
//! name to every error so a typo points at the file.

use serde::Deserialize;
use std::path::Path;

/// The user every sign-in is made as, unless the directory names another.
pub const DEFAULT_USER: &str = "dev@example.com";

/// One AWS account and the roles (permission sets) the user holds in it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Account {
    pub fn new(id: &str, name: &str, roles: &[&str]) -> Self {
        Account {
            id: id.to_owned(),
            name: name.to_owned(),
            email: None,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    /// The account's e-mail address, or `aws+NAME@example.com`.
    pub fn email(&self) -> String {
        self.email
            .clone()
            .unwrap_or_else(|| format!("aws+{}@example.com", self.name))
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The user's assignments, in the order they are listed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub accounts: Vec<Account>,
}

fn default_user() -> String {
    DEFAULT_USER.to_owned()
}

impl Default for Directory {
    /// Account `111111111111` ("dev": ReadOnly, Admin) and `222222222222`
    /// ("prod": ReadOnly).
    fn default() -> Self {
        Directory {
            user: default_user(),
            accounts: vec![
                Account::new("111111111111", "dev", &["ReadOnly", "Admin"]),
                Account::new("222222222222", "prod", &["ReadOnly"]),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read emulator directory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid emulator directory {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Directory {
    /// Read and check a directory file.
    pub fn load(path: &Path) -> Result<Self, DirectoryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Read {
            path: shown.clone(),
            source,
        })?;
        Directory::parse(&text).map_err(|message| DirectoryError::Invalid {
            path: shown,
            message,
        })
    }

    /// Parse and check directory TOML. The error is a sentence for a person.
    pub fn parse(text: &str) -> Result<Self, String> {
        let directory: Directory = toml::from_str(text).map_err(|e| e.to_string())?;
        directory.check()?;
        Ok(directory)
    }

    /// Account ids are 12 digits and unique; role names are IAM role names.
    pub fn check(&self) -> Result<(), String> {
        if self.user.trim().is_empty() {
            return Err("`user` must not be empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for account in &self.accounts {
            if account.id.len() != 12 || !account.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "account id {:?} is not 12 digits (account {:?})",
                    account.id, account.name
                ));
            }
            if !seen.insert(account.id.as_str()) {
                return Err(format!("account id {} is listed twice", account.id));
            }
            if account.name.trim().is_empty() {
                return Err(format!("account {} has an empty name", account.id));
            }
            for role in &account.roles {
                if !is_role_name(role) {
                    return Err(format!(
                        "role name {role:?} in account {} is not a valid IAM role name",
                        account.id
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

/// IAM role names: 1-64 characters of `[A-Za-z0-9+=,.@_-]`.
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_has_dev_and_prod() {
        let d = Directory::default();
        d.check().unwrap();
        assert_eq!(d.user, "dev@example.com");
        assert!(d.account("111111111111").unwrap().has_role("Admin"));
        assert!(!d.account("222222222222").unwrap().has_role("Admin"));
        assert_eq!(
            d.account("222222222222").unwrap().email(),
            "aws+prod@example.com"
        );
    }

    #[test]
    fn parses_accounts_tables() {
        let d = Directory::parse(
            r#"
            user = "alice@example.com"
            [[accounts]]
            id = "333333333333"
            name = "sandbox"
            email = "sandbox@example.com"
            roles = ["PowerUser"]
            "#,
        )
        .unwrap();
        assert_eq!(d.user, "alice@example.com");
        assert_eq!(d.accounts.len(), 1);
        assert_eq!(d.accounts[0].email(), "sandbox@example.com");
        assert_eq!(d.accounts[0].roles, vec!["PowerUser"]);
    }

    #[test]
    fn rejects_bad_ids_duplicates_roles_and_unknown_keys() {
        let bad_id = "[[accounts]]\nid = \"123\"\nname = \"x\"\n";
        assert!(Directory::parse(bad_id).unwrap_err().contains("12 digits"));
        let twice = "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\n\
                     [[accounts]]\nid = \"111111111111\"\nname = \"b\"\n";
        assert!(Directory::parse(twice).unwrap_err().contains("twice"));
        let role = "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\nroles = [\"a b\"]\n";
        assert!(Directory::parse(role).unwrap_err().contains("role name"));
        let unknown = "[[accounts]]\nid = \"111111111111\"\nname = \"a\"\nrole = \"x\"\n";
        assert!(Directory::parse(unknown).is_err());
    }

    #[test]
    fn load_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory.toml");
        std::fs::write(&path, "accounts = 3").unwrap();
        let err = Directory::load(&path).unwrap_err().to_string();
        assert!(err.contains("directory.toml"), "{err}");
        let missing = Directory::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.to_string().contains("nope.toml"));
    }
}
