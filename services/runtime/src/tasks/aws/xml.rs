//! XML for the AWS query (SNS, STS) and rest-xml (S3) protocols: answers parsed into a small
//! element tree (quick-xml underneath) and shaped into the JSON Step Functions returns.
//!
//! Without the services' models, shapes come from the XML itself plus a few hints: `member`
//! and `entry` children are lists, repeated names are lists, and the fields named in
//! [`LISTS`], [`NUMBERS`] and [`BOOLEANS`] keep the type the SDKs give them.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value};

/// One element: its local name, child elements and text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The descendant at `path` (child names from here).
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter()
            .try_fold(self, |element, name| element.child(name))
    }
}

/// Parses a document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, String> {
    // Text is kept as sent (no trimming): an entity splits text into pieces, and trimming
    // each would eat the spaces around it (`a &amp; b`). Whitespace between elements lands
    // in a parent's text, which `to_json` ignores.
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut buf = Vec::new();
    let name_of = |raw: &[u8]| String::from_utf8_lossy(raw).into_owned();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("the answer is not XML: {e}"))?;
        match event {
            Event::Start(start) => stack.push(Element {
                name: name_of(start.local_name().as_ref()),
                ..Element::default()
            }),
            Event::Empty(empty) => {
                let element = Element {
                    name: name_of(empty.local_name().as_ref()),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::Text(text) => {
                let text = text
                    .decode()
                    .map_err(|e| format!("the answer is not UTF-8: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                } else {
                    reference.decode().ok().and_then(|name| {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                    })
                };
                let Some(resolved) = resolved else {
                    return Err("the answer has an unknown XML entity".into());
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err("the answer's XML is unbalanced".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => return Err("the answer's XML ended early".into()),
            _ => {}
        }
        buf.clear();
    }
}

/// Fields that are lists even with one element (S3's flattened lists).
pub const LISTS: &[&str] = &["Contents", "CommonPrefixes"];
/// Fields that are numbers in the SDKs' models.
pub const NUMBERS: &[&str] = &["KeyCount", "MaxKeys", "Size", "ContentLength"];
/// Fields that are booleans in the SDKs' models.
pub const BOOLEANS: &[&str] = &["IsTruncated"];

/// The JSON shape of an element's content: text for a leaf, a list for `member`/`entry`
/// children, else an object (repeated names and [`LISTS`] become lists).
pub fn to_json(element: &Element) -> Value {
    if element.children.is_empty() {
        return leaf(&element.name, &element.text);
    }
    if element
        .children
        .iter()
        .all(|c| c.name == "member" || c.name == "entry")
    {
        return Value::Array(element.children.iter().map(to_json).collect());
    }
    let mut object = Map::new();
    for child in &element.children {
        let value = to_json(child);
        match object.get_mut(&child.name) {
            Some(Value::Array(list)) if is_list(child, element) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if LISTS.contains(&child.name.as_str()) => {
                object.insert(child.name.clone(), Value::Array(vec![value]));
            }
            None => {
                object.insert(child.name.clone(), value);
            }
        }
    }
    Value::Object(object)
}

fn is_list(child: &Element, parent: &Element) -> bool {
    LISTS.contains(&child.name.as_str())
        || parent
            .children
            .iter()
            .filter(|c| c.name == child.name)
            .count()
            > 1
}

fn leaf(name: &str, text: &str) -> Value {
    if NUMBERS.contains(&name) {
        if let Ok(n) = text.parse::<i64>() {
            return Value::from(n);
        }
    }
    if BOOLEANS.contains(&name) {
        if let Ok(b) = text.parse::<bool>() {
            return Value::Bool(b);
        }
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_answer_becomes_its_result() {
        let doc = br#"<?xml version="1.0"?>
<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ListTopicsResult><Topics><member><TopicArn>arn:a&amp;b</TopicArn></member></Topics></ListTopicsResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</ListTopicsResponse>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(root.name, "ListTopicsResponse");
        assert_eq!(
            root.at(&["ResponseMetadata", "RequestId"]).unwrap().text,
            "r-1"
        );
        let result = to_json(root.child("ListTopicsResult").unwrap());
        assert_eq!(result, json!({"Topics": [{"TopicArn": "arn:a&b"}]}));
    }

    #[test]
    fn flattened_lists_numbers_and_booleans() {
        let doc = br#"<ListBucketResult><Name>b</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>
<Contents><Key>a &#x26; b</Key><Size>3</Size></Contents></ListBucketResult>"#;
        let root = parse(doc).expect("parses");
        assert_eq!(
            to_json(&root),
            json!({"Name": "b", "KeyCount": 1, "IsTruncated": false,
                   "Contents": [{"Key": "a & b", "Size": 3}]})
        );
        let two =
            br#"<R><Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents><X/></R>"#;
        assert_eq!(
            to_json(&parse(two).unwrap()),
            json!({"Contents": [{"Key": "a"}, {"Key": "b"}], "X": ""})
        );
    }

    #[test]
    fn broken_documents_are_errors() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"<a>&nope;</a>").is_err());
    }
}
