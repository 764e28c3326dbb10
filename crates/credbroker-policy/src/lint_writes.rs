//! Whether a role can write (deploy, admin): not in its trust policy, so
//! the linter reads it from names (the file, the resource, a `Sid`) and
//! from the permissions written with the role, and the rules that depend
//! on it are stricter when it does.

use super::TrustPolicy;

/// Guess from names whether a policy guards a role that can write.
pub fn role_writes_by_name(file: &str, policy: &TrustPolicy) -> bool {
    const WORDS: &[&str] = &[
        "deploy", "admin", "write", "apply", "release", "publish", "prod",
    ];
    let file = file.to_ascii_lowercase();
    WORDS.iter().any(|w| {
        file.contains(w)
            || policy
                .statements
                .iter()
                .filter_map(|s| s.sid.as_deref())
                .any(|sid| sid.to_ascii_lowercase().contains(w))
    })
}

/// Do the permissions written with the role (a CloudFormation role's
/// `Policies` and `ManagedPolicyArns`, a Terraform role's `inline_policy`
/// and `managed_policy_arns`) let it write? An action with a write verb, a
/// service wildcard, `*`, or an AWS managed policy that writes.
pub fn role_writes_by_permissions(resource_text: &str, trust: &serde_json::Value) -> bool {
    const MARKERS: &[&str] = &[
        "Policies",
        "ManagedPolicyArns",
        "inline_policy",
        "managed_policy_arns",
    ];
    let Some(start) = MARKERS.iter().filter_map(|m| resource_text.find(m)).min() else {
        return false;
    };
    // The trust policy's own values (`repo:*`) are not permissions.
    let trust = trust.to_string();
    let resource_text = &resource_text[start..];
    const MANAGED: &[&str] = &["AdministratorAccess", "PowerUserAccess", "FullAccess"];
    const VERBS: &[&str] = &[
        "Put",
        "Delete",
        "Create",
        "Update",
        "Attach",
        "Detach",
        "Modify",
        "Write",
        "Terminate",
        "Run",
        "Invoke",
        "Pass",
        "Publish",
        "Send",
        "Start",
        "Stop",
        "Tag",
        "Upload",
    ];
    if MANAGED.iter().any(|m| resource_text.contains(m)) {
        return true;
    }
    let words =
        resource_text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '*' | '-')));
    words.filter(|w| !w.is_empty()).any(|w| {
        if w == "*" || trust.contains(w) {
            return false; // a Resource or principal wildcard says nothing
        }
        let Some((service, action)) = w.split_once(':') else {
            return false;
        };
        let service_ok = !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        service_ok
            && service != "sts"
            && (action == "*" || VERBS.iter().any(|v| action.starts_with(v)))
    }) || resource_text.contains("\"Action\": \"*\"")
        || resource_text.contains("Action: \"*\"")
        || resource_text.contains("Action: '*'")
        || resource_text.contains("actions = [\"*\"]")
}
