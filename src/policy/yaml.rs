//! Just enough YAML for workflow files: a tree of maps, lists and scalars
//! where every node remembers its line, built from `yaml-rust2`'s marked
//! parser events. Anchors and aliases resolve to empty scalars, which is
//! harmless for the keys the workflow linter reads.

use yaml_rust2::parser::{MarkedEventReceiver, Parser};
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

enum Open {
    List(Vec<Node>, usize),
    Map(Vec<(String, usize, Node)>, usize, Option<(String, usize)>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::List(items, _)) => items.push(node),
            Some(Open::Map(entries, _, pending)) => match pending.take() {
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
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(value, ..) => self.push(Node::Scalar(value, line)),
            Event::Alias(_) => self.push(Node::Scalar(String::new(), line)),
            Event::SequenceStart(..) => self.stack.push(Open::List(Vec::new(), line)),
            Event::MappingStart(..) => self.stack.push(Open::Map(Vec::new(), line, None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::List(items, l)) => Node::List(items, l),
                    Some(Open::Map(entries, l, _)) => Node::Map(entries, l),
                    None => return,
                };
                self.push(node);
            }
            _ => {}
        }
    }
}

/// Parse the first document of `text`.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| e.to_string())?;
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
}
