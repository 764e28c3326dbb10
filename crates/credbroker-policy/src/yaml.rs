//! Just enough YAML for workflow files and CloudFormation templates: a tree
//! of maps, lists and scalars where every node remembers its line, built
//! from `yaml-rust2`'s marked parser events.
//!
//! Anchors and aliases resolve as `yaml-rust2`'s own loader resolves them:
//! an alias is a copy of the node its anchor named, so a step reused
//! through `*alias` is linted like one written out (at the alias's line).
//! Merge keys (`<<`) are kept as ordinary keys, as GitHub reads them (it
//! takes anchors but not merge keys); GitLab merges them, so its linter
//! applies [`merge_keys`] to the tree.
//! Tags are dropped, except where [`parse_tagged`] is asked to keep them as
//! one-entry maps (CloudFormation's `!Sub x` becomes `{Fn::Sub: x}`).

use std::collections::HashMap;
use yaml_rust2::parser::{MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::Marker;
use yaml_rust2::Event;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Scalar(String, usize),
    List(Vec<Node>, usize),
    Map(Vec<(String, usize, Node)>, usize),
}

impl Node {
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar(_, l) | Node::List(_, l) | Node::Map(_, l) => *l,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, n)| n)
    }

    /// A map entry: the key's line and the value.
    pub fn entry(&self, key: &str) -> Option<(usize, &Node)> {
        match self {
            Node::Map(entries, _) => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, l, n)| (*l, n)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, usize, Node)] {
        match self {
            Node::Map(entries, _) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::List(items, _) => items,
            _ => &[],
        }
    }
}

/// A collection being built: its items, line, anchor id and wrapping tag key.
enum Open {
    List(Vec<Node>, usize, usize, Option<String>),
    Map(
        Vec<(String, usize, Node)>,
        usize,
        Option<(String, usize)>,
        usize,
        Option<String>,
    ),
}

/// Which tags to keep: the tag's suffix (`Sub` of `!Sub`) to the key of the
/// one-entry map that replaces the tagged node.
type TagKey = fn(&str) -> Option<String>;

struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    tag_key: TagKey,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::List(items, ..)) => items.push(node),
            Some(Open::Map(entries, _, pending, ..)) => match pending.take() {
                Some((key, line)) => entries.push((key, line, node)),
                None => {
                    let key = match &node {
                        Node::Scalar(s, _) => s.clone(),
                        _ => String::new(),
                    };
                    *pending = Some((key, node.line()));
                }
            },
        }
    }

    /// Finish a node: wrap it in its tag's map, remember its anchor, push it.
    fn finish(&mut self, node: Node, anchor: usize, wrap: Option<String>) {
        let node = match wrap {
            Some(key) => {
                let line = node.line();
                Node::Map(vec![(key, line, node)], line)
            }
            None => node,
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node);
    }

    fn wrap(&self, tag: Option<Tag>) -> Option<String> {
        tag.filter(|t| t.handle == "!")
            .and_then(|t| (self.tag_key)(&t.suffix))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(value, _, anchor, tag) => {
                let wrap = self.wrap(tag);
                self.finish(Node::Scalar(value, line), anchor, wrap);
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(anchored) => at_line(anchored, line),
                    None => Node::Scalar(String::new(), line),
                };
                self.push(node);
            }
            Event::SequenceStart(anchor, tag) => {
                let wrap = self.wrap(tag);
                self.stack.push(Open::List(Vec::new(), line, anchor, wrap));
            }
            Event::MappingStart(anchor, tag) => {
                let wrap = self.wrap(tag);
                self.stack
                    .push(Open::Map(Vec::new(), line, None, anchor, wrap));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, wrap) = match self.stack.pop() {
                    Some(Open::List(items, l, a, w)) => (Node::List(items, l), a, w),
                    Some(Open::Map(entries, l, _, a, w)) => (Node::Map(entries, l), a, w),
                    None => return,
                };
                self.finish(node, anchor, wrap);
            }
            _ => {}
        }
    }
}

/// A copy of an anchored node placed at the alias: every line is the
/// alias's, so a finding in a job that reuses a step points into that job.
fn at_line(node: &Node, line: usize) -> Node {
    match node {
        Node::Scalar(s, _) => Node::Scalar(s.clone(), line),
        Node::List(items, _) => Node::List(items.iter().map(|n| at_line(n, line)).collect(), line),
        Node::Map(entries, _) => Node::Map(
            entries
                .iter()
                .map(|(k, _, v)| (k.clone(), line, at_line(v, line)))
                .collect(),
            line,
        ),
    }
}

/// The tree with YAML 1.1 merge keys applied, as GitLab reads a
/// `.gitlab-ci.yml`: a map's `<<: *anchor` (or `<<: [*a, *b]`) adds the
/// named maps' entries that the map does not write itself; among a list of
/// maps the earlier wins. Merged entries carry the `<<` line, like an
/// alias's copy, so a finding points into the map that merged them.
pub fn merge_keys(node: Node) -> Node {
    match node {
        Node::Scalar(..) => node,
        Node::List(items, line) => Node::List(items.into_iter().map(merge_keys).collect(), line),
        Node::Map(entries, line) => {
            let mut own = Vec::new();
            let mut merged = Vec::new();
            for (key, key_line, value) in entries {
                let value = merge_keys(value);
                if key != "<<" {
                    own.push((key, key_line, value));
                    continue;
                }
                let sources = match value {
                    Node::List(items, _) => items,
                    map => vec![map],
                };
                for source in sources {
                    for (k, _, v) in source.entries() {
                        merged.push((k.clone(), key_line, at_line(v, key_line)));
                    }
                }
            }
            for entry in merged {
                if !own.iter().any(|(k, _, _)| *k == entry.0) {
                    own.push(entry);
                }
            }
            Node::Map(own, line)
        }
    }
}

/// A YAML error: the parser's message and its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: usize,
}

/// Parse the first document of `text`, dropping tags.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    parse_tagged(text, |_| None)
}

/// Parse the first document of `text`; a node tagged `!T` for which
/// `tag_key("T")` names a key becomes the one-entry map `{key: node}`.
pub fn parse_tagged(text: &str, tag_key: TagKey) -> Result<Node, YamlError> {
    let mut builder = Builder {
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        tag_key,
    };
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| YamlError {
            message: e.to_string(),
            line: e.marker().line(),
        })?;
    Ok(builder.root.unwrap_or_else(|| Node::Map(Vec::new(), 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_lines() {
        let doc = parse(
            "on: push\njobs:\n  a:\n    steps:\n      - uses: x\n        with:\n          k: v\n",
        )
        .unwrap();
        assert_eq!(doc.get("on").unwrap().as_str(), Some("push"));
        let steps = doc
            .get("jobs")
            .unwrap()
            .get("a")
            .unwrap()
            .get("steps")
            .unwrap();
        let step = &steps.items()[0];
        assert_eq!(step.entry("uses").unwrap().0, 5);
        assert_eq!(step.get("with").unwrap().entry("k").unwrap().0, 7);
        assert!(parse("a: [").is_err());
    }

    #[test]
    fn aliases_are_copies_of_their_anchors() {
        let doc =
            parse("a: &step\n  uses: x\n  with: {k: v}\nb: *step\nc: &s plain\nd: *s\n").unwrap();
        assert_eq!(doc.get("b").unwrap().line(), 4);
        assert_eq!(doc.get("b").unwrap().entry("uses").unwrap().0, 4);
        assert_eq!(
            doc.get("b").unwrap().get("uses").unwrap().as_str(),
            Some("x")
        );
        assert_eq!(doc.get("d").unwrap().as_str(), Some("plain"));
    }

    #[test]
    fn merge_keys_add_what_the_map_does_not_write() {
        let text = ".a: &a\n  image: x\n  tags: [one]\n.b: &b\n  image: y\n  stage: deploy\n\
                    job:\n  <<: [*a, *b]\n  tags: [two]\nplain:\n  <<: *b\n";
        let raw = parse(text).unwrap();
        assert!(
            raw.get("job").unwrap().get("<<").is_some(),
            "parse alone keeps the key"
        );
        let doc = merge_keys(raw);
        let job = doc.get("job").unwrap();
        assert!(job.get("<<").is_none());
        assert_eq!(
            job.get("image").unwrap().as_str(),
            Some("x"),
            "the earlier map wins"
        );
        assert_eq!(job.get("stage").unwrap().as_str(), Some("deploy"));
        assert_eq!(
            job.get("tags").unwrap().items()[0].as_str(),
            Some("two"),
            "own keys win"
        );
        assert_eq!(
            job.entry("stage").unwrap().0,
            8,
            "merged entries sit at the << line"
        );
        assert_eq!(
            doc.get("plain").unwrap().get("image").unwrap().as_str(),
            Some("y")
        );
    }

    #[test]
    fn kept_tags_become_one_entry_maps_and_errors_have_lines() {
        let doc = parse_tagged("a: !Sub x-${Y}\nb: !Unknown z\n", |t| {
            (t == "Sub").then(|| format!("Fn::{t}"))
        })
        .unwrap();
        assert_eq!(
            doc.get("a").unwrap().get("Fn::Sub").unwrap().as_str(),
            Some("x-${Y}")
        );
        assert_eq!(doc.get("b").unwrap().as_str(), Some("z"));
        let e = parse("a: b\nc: [\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
    }
}
