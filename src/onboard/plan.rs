//! From the accounts and roles a person holds to the profiles they get.
//!
//! First the team file's filters drop what the team does not want, then the
//! template names each account×role (lower-cased, anything outside
//! `[a-z0-9._-]` turned into `-`), and finally names that still collide are
//! made unique the same way on every machine and every run:
//!
//! - every member of a colliding group gets `-{account_id}` appended, so a
//!   name never depends on the order IAM Identity Center lists accounts in;
//! - members that still collide (one account, role names differing only in
//!   case or punctuation) get `-2`, `-3`, ... in role-name order.
//!
//! Pure: the same assignments always give the same plan, sorted by name.

use super::team::TeamFile;
use std::collections::BTreeMap;

/// One role the person may use in one account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub account_id: String,
    pub account_name: String,
    pub role_name: String,
}

/// A profile to write into the managed block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedProfile {
    pub name: String,
    pub account_id: String,
    pub account_name: String,
    pub role_name: String,
    pub region: String,
}

pub use super::names::safe_name;

/// The template filled in for one assignment, made safe.
fn render_name(team: &TeamFile, session: &str, a: &Assignment) -> String {
    let account_name = if a.account_name.is_empty() {
        &a.account_id
    } else {
        &a.account_name
    };
    let raw = team
        .profile_template
        .replace("{account_name}", account_name)
        .replace("{account_id}", &a.account_id)
        .replace("{role_name}", &a.role_name)
        .replace("{session_name}", session);
    let name = safe_name(&raw);
    if name.is_empty() {
        format!("{}-{}", a.account_id, safe_name(&a.role_name))
    } else {
        name
    }
}

/// The profiles for `assignments` under `team`, unique and sorted by name.
pub fn plan_profiles(team: &TeamFile, assignments: &[Assignment]) -> Vec<PlannedProfile> {
    let session = team.session_name();
    let mut admitted: Vec<&Assignment> = assignments
        .iter()
        .filter(|a| team.accounts.admits(&[&a.account_name, &a.account_id]))
        .filter(|a| team.roles.admits(&[&a.role_name]))
        .collect();
    admitted.sort();
    admitted.dedup();

    let mut by_name: BTreeMap<String, Vec<&Assignment>> = BTreeMap::new();
    for a in admitted {
        by_name
            .entry(render_name(team, &session, a))
            .or_default()
            .push(a);
    }
    let singles: Vec<String> = by_name
        .iter()
        .filter(|(_, group)| group.len() == 1)
        .map(|(name, _)| name.clone())
        .collect();

    let mut named: BTreeMap<String, Vec<&Assignment>> = BTreeMap::new();
    for (name, group) in by_name {
        if group.len() == 1 {
            named.entry(name).or_default().extend(group);
        } else {
            for a in group {
                let mut suffixed = format!("{name}-{}", a.account_id);
                // A suffixed name must not take a name that is already someone's.
                while singles.contains(&suffixed) {
                    suffixed.push_str("-dup");
                }
                named.entry(suffixed).or_default().push(a);
            }
        }
    }

    let mut plan = Vec::new();
    let mut taken: std::collections::BTreeSet<String> = named.keys().cloned().collect();
    for (name, group) in named {
        for (i, a) in group.into_iter().enumerate() {
            let unique = if i == 0 {
                name.clone()
            } else {
                let mut n = i + 1;
                while taken.contains(&format!("{name}-{n}")) {
                    n += 1;
                }
                let unique = format!("{name}-{n}");
                taken.insert(unique.clone());
                unique
            };
            plan.push(PlannedProfile {
                name: unique,
                account_id: a.account_id.clone(),
                account_name: a.account_name.clone(),
                role_name: a.role_name.clone(),
                region: team.profile_region().to_owned(),
            });
        }
    }
    plan.sort_by(|a, b| a.name.cmp(&b.name));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: &str, name: &str, role: &str) -> Assignment {
        Assignment {
            account_id: id.into(),
            account_name: name.into(),
            role_name: role.into(),
        }
    }

    fn team() -> TeamFile {
        TeamFile::from_start_url("https://corp.awsapps.com/start", "us-east-1")
    }

    fn names(plan: &[PlannedProfile]) -> Vec<&str> {
        plan.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn template_and_region() {
        let plan = plan_profiles(&team(), &[a("111111111111", "Dev", "ReadOnly")]);
        assert_eq!(names(&plan), ["dev-readonly"]);
        assert_eq!(plan[0].region, "us-east-1");
        let mut t = team();
        t.profile_template = "{session_name}/{account_id}/{role_name}".into();
        let plan = plan_profiles(&t, &[a("111111111111", "Dev", "ReadOnly")]);
        assert_eq!(names(&plan), ["corp-111111111111-readonly"]);
    }

    #[test]
    fn collisions_are_resolved_the_same_whatever_the_order() {
        let mut input = vec![
            a("222222222222", "Prod EU", "ReadOnly"),
            a("111111111111", "prod-eu", "ReadOnly"),
            a("111111111111", "prod-eu", "readonly"),
            a("333333333333", "other", "Admin"),
        ];
        let plan = plan_profiles(&team(), &input);
        assert_eq!(
            names(&plan),
            [
                "other-admin",
                "prod-eu-readonly-111111111111",
                "prod-eu-readonly-111111111111-2",
                "prod-eu-readonly-222222222222",
            ]
        );
        input.reverse();
        assert_eq!(plan_profiles(&team(), &input), plan);
        let unique: std::collections::BTreeSet<_> = names(&plan).into_iter().collect();
        assert_eq!(unique.len(), plan.len());
    }

    #[test]
    fn suffixed_names_do_not_steal_existing_ones() {
        let plan = plan_profiles(
            &team(),
            &[
                a("111111111111", "x", "r"),
                a("222222222222", "x", "r"),
                a("333333333333", "x-r-111111111111", ""),
            ],
        );
        let unique: std::collections::BTreeSet<_> = names(&plan).into_iter().collect();
        assert_eq!(unique.len(), 3, "{plan:?}");
    }

    #[test]
    fn filters_apply() {
        let mut t = team();
        t.accounts.exclude = vec!["sandbox*".into()];
        t.roles.include = vec!["Read*".into()];
        let plan = plan_profiles(
            &t,
            &[
                a("111111111111", "dev", "ReadOnly"),
                a("111111111111", "dev", "Admin"),
                a("222222222222", "sandbox-1", "ReadOnly"),
            ],
        );
        assert_eq!(names(&plan), ["dev-readonly"]);
    }
}
