//! Attribute values in DynamoDB's JSON (`{"S": "..."}`, numbers as strings, binary as
//! base64), read straight into the SDK's `AttributeValue`s and written from them: the
//! aggregates' encoders and decoders work on the SDK's types, whoever sends them.

use crate::dynamo::items::Item;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// An item read from DynamoDB's JSON straight into the SDK's attribute values (which
/// the aggregates' decoders take): `{"name": {"S": "..."}, ...}`.
pub(super) struct ItemIn(pub Item);

impl<'de> Deserialize<'de> for ItemIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Attributes;
        impl<'de> Visitor<'de> for Attributes {
            type Value = ItemIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an item's attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemIn, A::Error> {
                let mut item = Item::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, ValueIn(value))) = map.next_entry::<String, ValueIn>()? {
                    item.insert(name, value);
                }
                Ok(ItemIn(item))
            }
        }
        deserializer.deserialize_map(Attributes)
    }
}

/// One attribute value in DynamoDB's JSON: `{"S": "..."}`, numbers as strings, binary
/// as base64.
struct ValueIn(AttributeValue);

impl<'de> Deserialize<'de> for ValueIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tagged;
        impl<'de> Visitor<'de> for Tagged {
            type Value = ValueIn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute value such as {\"S\": \"...\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueIn, A::Error> {
                use serde::de::Error;
                let tag: Tag = map
                    .next_key()?
                    .ok_or_else(|| A::Error::custom("an attribute value with no type"))?;
                let value = match tag {
                    Tag::S => AttributeValue::S(map.next_value()?),
                    Tag::N => AttributeValue::N(map.next_value()?),
                    Tag::B => AttributeValue::B(Blob::new(base64_bytes::<A::Error>(
                        &map.next_value::<String>()?,
                    )?)),
                    Tag::Bool => AttributeValue::Bool(map.next_value()?),
                    Tag::Null => AttributeValue::Null(map.next_value()?),
                    Tag::M => AttributeValue::M(map.next_value::<ItemIn>()?.0),
                    Tag::L => AttributeValue::L(
                        map.next_value::<Vec<ValueIn>>()?
                            .into_iter()
                            .map(|v| v.0)
                            .collect(),
                    ),
                    Tag::Ss => AttributeValue::Ss(map.next_value()?),
                    Tag::Ns => AttributeValue::Ns(map.next_value()?),
                    Tag::Bs => AttributeValue::Bs(
                        map.next_value::<Vec<String>>()?
                            .iter()
                            .map(|b| base64_bytes::<A::Error>(b).map(Blob::new))
                            .collect::<Result<_, _>>()?,
                    ),
                };
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("an attribute value with two types"));
                }
                Ok(ValueIn(value))
            }
        }
        deserializer.deserialize_map(Tagged)
    }
}

/// A `B` value or a `BS` element's bytes, from their base64.
pub(super) fn base64_bytes<E: serde::de::Error>(base64: &str) -> Result<Vec<u8>, E> {
    STANDARD
        .decode(base64)
        .map_err(|e| E::custom(format!("binary that is not base64: {e}")))
}

/// An attribute value's type tag: the one key of `{"S": "..."}`.
pub(super) enum Tag {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an attribute value's type")
            }
            fn visit_str<E: serde::de::Error>(self, tag: &str) -> Result<Tag, E> {
                Ok(match tag {
                    "S" => Tag::S,
                    "N" => Tag::N,
                    "B" => Tag::B,
                    "BOOL" => Tag::Bool,
                    "NULL" => Tag::Null,
                    "M" => Tag::M,
                    "L" => Tag::L,
                    "SS" => Tag::Ss,
                    "NS" => Tag::Ns,
                    "BS" => Tag::Bs,
                    other => return Err(E::custom(format!("an attribute of type {other}"))),
                })
            }
        }
        deserializer.deserialize_identifier(TagVisitor)
    }
}

/// An item written in DynamoDB's JSON.
pub(super) struct ItemOut<'a>(pub &'a Item);

impl Serialize for ItemOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &ValueOut(value))?;
        }
        map.end()
    }
}

/// One attribute value written in DynamoDB's JSON.
struct ValueOut<'a>(&'a AttributeValue);

impl Serialize for ValueOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(s) => map.serialize_entry("S", s)?,
            AttributeValue::N(n) => map.serialize_entry("N", n)?,
            AttributeValue::B(b) => map.serialize_entry("B", &STANDARD.encode(b.as_ref()))?,
            AttributeValue::Bool(b) => map.serialize_entry("BOOL", b)?,
            AttributeValue::Null(b) => map.serialize_entry("NULL", b)?,
            AttributeValue::M(m) => map.serialize_entry("M", &ItemOut(m))?,
            AttributeValue::L(l) => map.serialize_entry("L", &ListOut(l))?,
            AttributeValue::Ss(ss) => map.serialize_entry("SS", ss)?,
            AttributeValue::Ns(ns) => map.serialize_entry("NS", ns)?,
            AttributeValue::Bs(bs) => {
                let encoded: Vec<String> = bs.iter().map(|b| STANDARD.encode(b.as_ref())).collect();
                map.serialize_entry("BS", &encoded)?
            }
            other => {
                return Err(serde::ser::Error::custom(format!(
                    "an attribute value this client cannot write: {other:?}"
                )));
            }
        }
        map.end()
    }
}

struct ListOut<'a>(&'a [AttributeValue]);

impl Serialize for ListOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
            seq.serialize_element(&ValueOut(value))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn every_kind() -> Item {
        let nested: Item = HashMap::from([("inner".to_string(), AttributeValue::N("-1.5".into()))]);
        HashMap::from([
            (
                "s".to_string(),
                AttributeValue::S("ünïcode \"quoted\"".into()),
            ),
            ("n".to_string(), AttributeValue::N("42".into())),
            (
                "b".to_string(),
                AttributeValue::B(Blob::new(vec![0, 159, 255])),
            ),
            ("t".to_string(), AttributeValue::Bool(true)),
            ("null".to_string(), AttributeValue::Null(true)),
            ("m".to_string(), AttributeValue::M(nested)),
            (
                "l".to_string(),
                AttributeValue::L(vec![
                    AttributeValue::S("a".into()),
                    AttributeValue::Bool(false),
                ]),
            ),
            (
                "ss".to_string(),
                AttributeValue::Ss(vec!["x".into(), "y".into()]),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])]),
            ),
        ])
    }

    #[test]
    fn every_kind_of_attribute_value_is_written_as_dynamodb_writes_it_and_read_back() {
        let item = every_kind();
        let written = serde_json::to_value(ItemOut(&item)).unwrap();
        assert_eq!(written["s"], serde_json::json!({"S": "ünïcode \"quoted\""}));
        assert_eq!(written["n"], serde_json::json!({"N": "42"}));
        assert_eq!(written["b"], serde_json::json!({"B": "AJ//"}));
        assert_eq!(written["t"], serde_json::json!({"BOOL": true}));
        assert_eq!(written["null"], serde_json::json!({"NULL": true}));
        assert_eq!(
            written["m"],
            serde_json::json!({"M": {"inner": {"N": "-1.5"}}})
        );
        assert_eq!(
            written["l"],
            serde_json::json!({"L": [{"S": "a"}, {"BOOL": false}]})
        );
        assert_eq!(written["ss"], serde_json::json!({"SS": ["x", "y"]}));
        assert_eq!(written["ns"], serde_json::json!({"NS": ["1", "2"]}));
        assert_eq!(written["bs"], serde_json::json!({"BS": ["AQ==", "AgM="]}));
        let read: ItemIn = serde_json::from_value(written).unwrap();
        assert_eq!(read.0, item);
    }

    #[test]
    fn a_value_of_no_type_two_types_or_an_unknown_type_is_not_understood() {
        for bad in [
            r#"{"a": {}}"#,
            r#"{"a": {"S": "x", "N": "1"}}"#,
            r#"{"a": {"X": "x"}}"#,
            r#"{"a": {"B": "not base64!"}}"#,
            r#"{"a": {"N": 1}}"#,
        ] {
            assert!(serde_json::from_str::<ItemIn>(bad).is_err(), "{bad}");
        }
    }
}
