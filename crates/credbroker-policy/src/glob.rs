//! IAM's `StringLike` patterns, on their own: the condition evaluator, the
//! issuer table and the linters all match them, and none of them should
//! need the others to do so.

/// IAM's `StringLike`: `*` matches any run of characters (none included),
/// `?` exactly one; everything else literally and case-sensitively.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Does the pattern contain a wildcard?
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}
