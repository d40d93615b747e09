//! Items read from DynamoDB's JSON straight into the aggregates' item structs (whose
//! `Serialize` [`to_item`](crate::dynamo::items::to_item) writes through `serde_dynamo`,
//! and whose `Deserialize` reads them here), for the pages the routes read most. A page's
//! items are not built as the SDK's map of attribute values, then as `serde_dynamo`'s
//! own map, then as the struct: for a page of fifty messages those two maps per item
//! (each key hashed and allocated twice) were a large part of the time its calls took
//! (docs/performance.md).
//!
//! What a struct reads is what `serde_dynamo` gives it from the same item: `S` as a
//! string, `N` as the number its string holds, `BOOL`, `NULL` as none, `M` as a struct or
//! map, `L`, `SS` and `NS` as sequences, `B` and `BS` as bytes (base64 on the wire). Each
//! type tag's payload must be of its type (`{"S": 1}` is refused). An attribute no field
//! names is skipped, and an `M` or `L` one is not looked into. The conformance is a test
//! below, item by item against `serde_dynamo`.

use super::values::{Tag, base64_bytes};
use serde::de::value::UnitDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use std::fmt;
use std::marker::PhantomData;

/// An item (`{"name": {"S": "..."}, ...}`) decoded as `T`.
pub(in crate::dynamo) struct Decoded<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Decoded<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(Attributes(deserializer)).map(Decoded)
    }
}

/// A map of attributes (an item, or an `M` value) seen as a plain map of values.
struct Attributes<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Attributes<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(AttributesVisitor(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

struct AttributesVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for AttributesVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of attribute values")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(AttributeMap(map))
    }
}

/// The attributes of a map, each value read through its type tag.
struct AttributeMap<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for AttributeMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Attribute(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// One attribute value, `{"TAG": payload}`, given to `S` as the value it holds.
struct Attribute<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Attribute<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        deserializer.deserialize_map(Tagged(self.0))
    }
}

struct Tagged<S>(S);

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Tagged<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value such as {\"S\": \"...\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Value, A::Error> {
        let tag: Tag = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("an attribute value with no type"))?;
        let value = match tag {
            Tag::S => map.next_value_seed(AsScalar(self.0, Scalar::Text))?,
            Tag::Bool => map.next_value_seed(AsScalar(self.0, Scalar::Boolean))?,
            Tag::Ss => map.next_value_seed(AsList(self.0, PhantomData::<Scalar>))?,
            Tag::N => {
                let number: Number = map.next_value()?;
                self.0.deserialize(number.value())?
            }
            Tag::Null => {
                if !map.next_value::<bool>()? {
                    return Err(de::Error::custom("a NULL attribute value that is not true"));
                }
                self.0.deserialize(UnitDeserializer::new())?
            }
            Tag::M => map.next_value_seed(AsAttributes(self.0))?,
            Tag::L => map.next_value_seed(AsList(self.0, PhantomData::<Attribute<()>>))?,
            Tag::Ns => map.next_value_seed(AsList(self.0, PhantomData::<Number>))?,
            Tag::B => {
                let bytes: Binary = map.next_value()?;
                self.0.deserialize(bytes.value())?
            }
            Tag::Bs => map.next_value_seed(AsList(self.0, PhantomData::<Binary>))?,
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("an attribute value with two types"));
        }
        Ok(value)
    }
}

/// What an `S` or `BOOL` payload must be, and an `SS`'s elements: the JSON string or
/// boolean, whatever the field reading it would take.
#[derive(Clone, Copy)]
enum Scalar {
    Text,
    Boolean,
}

/// `seed` reading a payload that must be a [`Scalar`].
struct AsScalar<S>(S, Scalar);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AsScalar<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ScalarValue(deserializer, self.1))
    }
}

struct ScalarValue<D>(D, Scalar);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ScalarValue<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        match self.1 {
            Scalar::Text => self.0.deserialize_string(visitor),
            Scalar::Boolean => self.0.deserialize_bool(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// `seed` reading an `M` value's attributes.
struct AsAttributes<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AsAttributes<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Attributes(deserializer))
    }
}

/// `seed` reading a list whose elements are each read as `E` reads them: attribute
/// values (`L`), number strings (`NS`) or base64 (`BS`).
struct AsList<S, E>(S, PhantomData<E>);

impl<'de, S: DeserializeSeed<'de>, E: Element<'de>> DeserializeSeed<'de> for AsList<S, E> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(List::<D, E>(deserializer, PhantomData))
    }
}

/// How a list's element is given to the seed that reads it.
trait Element<'de> {
    fn read<A: SeqAccess<'de>, S: DeserializeSeed<'de>>(
        seq: &mut A,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error>;
}

impl<'de> Element<'de> for Attribute<()> {
    fn read<A: SeqAccess<'de>, S: DeserializeSeed<'de>>(
        seq: &mut A,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        seq.next_element_seed(Attribute(seed))
    }
}

impl<'de> Element<'de> for Scalar {
    fn read<A: SeqAccess<'de>, S: DeserializeSeed<'de>>(
        seq: &mut A,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        seq.next_element_seed(AsScalar(seed, Scalar::Text))
    }
}

impl<'de> Element<'de> for Number {
    fn read<A: SeqAccess<'de>, S: DeserializeSeed<'de>>(
        seq: &mut A,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        seq.next_element::<Number>()?
            .map(|number| seed.deserialize(number.value()))
            .transpose()
    }
}

impl<'de> Element<'de> for Binary {
    fn read<A: SeqAccess<'de>, S: DeserializeSeed<'de>>(
        seq: &mut A,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        seq.next_element::<Binary>()?
            .map(|bytes| seed.deserialize(bytes.value()))
            .transpose()
    }
}

/// A list seen as a plain sequence of its elements' values.
struct List<D, E>(D, PhantomData<E>);

impl<'de, D: Deserializer<'de>, E: Element<'de>> Deserializer<'de> for List<D, E> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_seq(ListVisitor::<V, E>(visitor, PhantomData))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

struct ListVisitor<V, E>(V, PhantomData<E>);

impl<'de, V: Visitor<'de>, E: Element<'de>> Visitor<'de> for ListVisitor<V, E> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Elements::<A, E>(seq, PhantomData))
    }
}

struct Elements<A, E>(A, PhantomData<E>);

impl<'de, A: SeqAccess<'de>, E: Element<'de>> SeqAccess<'de> for Elements<A, E> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        E::read(&mut self.0, seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An `N` value: DynamoDB's number string, parsed as the whole number or the float it
/// holds (what a field of any numeric type then reads, as from JSON).
#[derive(Clone, Copy)]
enum Number {
    Negative(i64),
    Positive(u64),
    Float(f64),
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number in a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Number, E> {
                if let Ok(whole) = text.parse::<u64>() {
                    Ok(Number::Positive(whole))
                } else if let Ok(whole) = text.parse::<i64>() {
                    Ok(Number::Negative(whole))
                } else {
                    text.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(Number::Float)
                        .ok_or_else(|| E::custom(format!("{text:?} is not a number")))
                }
            }
        }
        deserializer.deserialize_str(NumberVisitor)
    }
}

impl Number {
    /// The number as a deserializer whose errors are `E`s.
    fn value<E>(self) -> NumberValue<E> {
        NumberValue(self, PhantomData)
    }
}

struct NumberValue<E>(Number, PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for NumberValue<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Number::Negative(n) => visitor.visit_i64(n),
            Number::Positive(n) => visitor.visit_u64(n),
            Number::Float(f) => visitor.visit_f64(f),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// A `B` value, or an element of a `BS`: base64 on the wire.
struct Binary(Vec<u8>);

impl Binary {
    /// The bytes as a deserializer whose errors are `E`s.
    fn value<E>(self) -> BinaryValue<E> {
        BinaryValue(self.0, PhantomData)
    }
}

struct BinaryValue<E>(Vec<u8>, PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for BinaryValue<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_byte_buf(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BinaryVisitor;
        impl Visitor<'_> for BinaryVisitor {
            type Value = Binary;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("binary in base64")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Binary, E> {
                base64_bytes(text).map(Binary)
            }
        }
        deserializer.deserialize_str(BinaryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::conversations::{ConversationItem, MessageItem};
    use crate::dynamo::items::{Item, from_item, to_item};
    use crate::dynamo::wire::values::ItemOut;
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};
    use std::collections::{BTreeMap, HashMap};

    /// `item` as DynamoDB's JSON, read as `T` here.
    fn decoded<T: DeserializeOwned>(item: &Item) -> Result<T, serde_json::Error> {
        let wire = serde_json::to_vec(&ItemOut(item)).unwrap();
        serde_json::from_slice::<Decoded<T>>(&wire).map(|d| d.0)
    }

    /// What `T` holds when read here and when read by `serde_dynamo`, as JSON.
    fn both<T: DeserializeOwned + Serialize>(item: &Item) -> (Value, Value) {
        let here: T = decoded(item).expect("decodes here");
        let theirs: T = from_item(item.clone()).expect("decodes with serde_dynamo");
        (
            serde_json::to_value(here).unwrap(),
            serde_json::to_value(theirs).unwrap(),
        )
    }

    #[derive(Serialize, Deserialize)]
    struct Nested {
        name: String,
        size: u64,
    }

    /// A field of every type an item struct may hold.
    #[derive(Serialize, Deserialize)]
    struct EveryKind {
        text: String,
        negative: i64,
        large: u64,
        ratio: f64,
        flag: bool,
        present: Option<String>,
        #[serde(default)]
        absent: Option<i64>,
        null: Option<String>,
        nested: Nested,
        list: Vec<Nested>,
        counts: BTreeMap<String, i64>,
        strings: Vec<String>,
        numbers: Vec<i64>,
        #[serde(with = "serde_bytes_as_vec")]
        bytes: Vec<u8>,
        maybe_nested: Option<Nested>,
    }

    /// Bytes as `serde_dynamo` writes them (`B`) and reads them back.
    mod serde_bytes_as_vec {
        use serde::{Deserializer, Serializer};
        pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct Bytes;
            impl serde::de::Visitor<'_> for Bytes {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_bytes(Bytes)
        }
    }

    #[test]
    fn every_kind_of_value_reads_as_serde_dynamo_reads_it() {
        let mut item = to_item(&EveryKind {
            text: "ünïcode \"quoted\" \\ and a\nnewline".into(),
            negative: -1_795_341_600_000,
            large: u64::MAX,
            ratio: -1.5,
            flag: true,
            present: Some("here".into()),
            absent: None,
            null: None,
            nested: Nested {
                name: "a.png".into(),
                size: 3,
            },
            list: vec![
                Nested {
                    name: "b".into(),
                    size: 0,
                },
                Nested {
                    name: "c".into(),
                    size: 9,
                },
            ],
            counts: BTreeMap::from([("x".into(), 1), ("y".into(), -2)]),
            strings: vec!["s1".into(), "s2".into()],
            numbers: vec![4, -5],
            bytes: vec![0, 159, 255],
            maybe_nested: Some(Nested {
                name: "d".into(),
                size: 1,
            }),
        })
        .unwrap();
        // Absent on the item, `NULL` on it, and attributes no field names (skipped).
        item.remove("absent");
        item.insert("null".into(), AttributeValue::Null(true));
        item.insert("unknown".into(), AttributeValue::M(item.clone()));
        item.insert("unknown_n".into(), AttributeValue::N("-7.25".into()));
        item.insert("unknown_null".into(), AttributeValue::Null(true));
        item.insert("unknown_b".into(), AttributeValue::B(Blob::new(vec![7])));
        item.insert(
            "unknown_l".into(),
            AttributeValue::L(vec![AttributeValue::Bool(true)]),
        );
        let (here, theirs) = both::<EveryKind>(&item);
        assert_eq!(here, theirs);
        assert_eq!(here["large"], json!(u64::MAX));
        assert_eq!(here["null"], Value::Null);
        assert_eq!(here["bytes"], json!([0, 159, 255]));
        assert_eq!(here["list"][1]["size"], json!(9));
        // String and number sets read as the sequences they are.
        item.insert(
            "strings".into(),
            AttributeValue::Ss(vec!["s1".into(), "s2".into()]),
        );
        item.insert(
            "numbers".into(),
            AttributeValue::Ns(vec!["4".into(), "-5".into()]),
        );
        let (here, theirs) = both::<EveryKind>(&item);
        assert_eq!(here, theirs);
        assert_eq!(here["numbers"], json!([4, -5]));
    }

    #[test]
    fn a_binary_set_reads_as_a_list_of_bytes() {
        /// One element: bytes, read as `serde_dynamo` gives them (`visit_bytes`).
        struct Bytes(Vec<u8>);
        impl Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }
        impl<'de> Deserialize<'de> for Bytes {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde_bytes_as_vec::deserialize(d).map(Bytes)
            }
        }
        #[derive(Serialize, Deserialize)]
        struct Sets {
            blobs: Vec<Bytes>,
        }
        let item: Item = HashMap::from([(
            "blobs".to_string(),
            AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])]),
        )]);
        let (here, theirs) = both::<Sets>(&item);
        assert_eq!(here, theirs);
        assert_eq!(here["blobs"], json!([[1], [2, 3]]));
    }

    #[test]
    fn the_item_structs_the_pages_read_decode_as_with_serde_dynamo() {
        let message: MessageItem = serde_json::from_value(json!({
            "pk": "CONV#chat-1", "sk": "MSG#msg-1", "id": "msg-1", "author": "agent",
            "agent_id": "agent-7", "agent_name": "Sam", "internal": true, "body": "Hi \"there\"",
            "image_url": "https://example.com/a.png", "client_message_id": "c-1",
            "sent_at": 1_795_341_600_000_i64,
            "attachments": [{"id": "att-1", "name": "a.png", "content_type": "image/png",
                "size": 1024, "key": "uploads/att-1"}],
        }))
        .unwrap();
        let item = to_item(&message).unwrap();
        let (here, theirs) = both::<MessageItem>(&item);
        assert_eq!(here, theirs);
        assert_eq!(here["attachments"][0]["size"], json!(1024));
        // As stored before authors and attachments: the defaults.
        let legacy: MessageItem = serde_json::from_value(json!({
            "pk": "CONV#TKT-001", "sk": "MSG#msg-2", "id": "msg-2", "body": "hello",
            "sent_at": 1,
        }))
        .unwrap();
        let (here, theirs) = both::<MessageItem>(&to_item(&legacy).unwrap());
        assert_eq!(here, theirs);
        // As stored before statuses, counts, read marks and ratings: the defaults.
        let legacy: ConversationItem = serde_json::from_value(json!({
            "pk": "CONV#TKT-001", "sk": "META", "id": "TKT-001", "kind": "ticket",
            "owner": "ann@example.com", "open": false, "created_at": 1, "last_activity_at": 1,
            "gsi1pk": "USER#ann@example.com", "gsi1sk": "ticket#1#TKT-001",
        }))
        .unwrap();
        let (here, theirs) = both::<ConversationItem>(&to_item(&legacy).unwrap());
        assert_eq!(here, theirs);
        assert_eq!(here["customer_messages"], json!(0));
        let conversation: ConversationItem = serde_json::from_value(json!({
            "pk": "CONV#chat-1", "sk": "META", "id": "chat-1", "kind": "chat",
            "owner": "ann@example.com", "open": true, "status": "open", "assignee": "agent-7",
            "snoozed_until": 5, "follow_up_of": "TKT-001", "created_at": 1, "last_activity_at": 2,
            "gsi1pk": "USER#ann@example.com", "gsi1sk": "chat#2#chat-1",
            "gsi2pk": "INBOX#chat#0", "gsi2sk": "open#2#chat-1",
            "gsi3pk": "AGENT#agent-7#chat#0", "gsi3sk": "open#2#chat-1",
            "gsi4pk": "DUE#1", "gsi4sk": "5", "last_message_id": "msg-1",
            "last_message_author": "customer", "last_message_preview": "Hi",
            "customer_messages": 3, "agent_replies": 2, "customer_read_up_to": "msg-1",
            "customer_read": 4, "agents_read_up_to": "msg-1", "agents_read": 6,
            "agents_read_by_id": "agent-7", "agents_read_by_name": "Sam", "rating_score": 5,
            "rating_comment": "Great", "rated_at": 7, "rating_first_at": 7,
        }))
        .unwrap();
        let item = to_item(&conversation).unwrap();
        let (here, theirs) = both::<ConversationItem>(&item);
        assert_eq!(here, theirs);
        assert_eq!(here["rating_score"], json!(5));
    }

    #[test]
    fn a_value_that_is_not_what_the_field_holds_is_refused() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Small {
            count: i64,
            label: String,
        }
        for bad in [
            r#"{"count": {"N": "1.5x"}, "label": {"S": "a"}}"#,
            r#"{"count": {"S": "1"}, "label": {"S": "a"}}"#,
            r#"{"count": {"N": "1"}, "label": {"N": "1"}}"#,
            r#"{"count": {"N": "1"}, "label": {}}"#,
            r#"{"count": {"N": "1"}, "label": {"S": "a", "N": "1"}}"#,
            r#"{"count": {"N": "1"}, "label": {"X": "a"}}"#,
            r#"{"count": {"N": "99999999999999999999"}, "label": {"S": "a"}}"#,
            r#"{"label": {"S": "a"}}"#,
            // A payload that is not its tag's type.
            r#"{"count": {"N": "1"}, "label": {"S": 1}}"#,
            r#"{"count": {"N": "1"}, "label": {"BOOL": "a"}}"#,
            r#"{"count": {"N": "1"}, "label": {"SS": ["a"]}}"#,
            r#"{"count": {"N": "1"}, "label": {"S": null}}"#,
            r#"{"count": {"N": "1"}, "label": {"NULL": false}}"#,
        ] {
            assert!(
                serde_json::from_str::<Decoded<Small>>(bad).is_err(),
                "{bad} was read"
            );
        }
        let good: Decoded<Small> =
            serde_json::from_str(r#"{"count": {"N": "-3"}, "label": {"S": "a"}}"#).unwrap();
        assert_eq!((good.0.count, good.0.label.as_str()), (-3, "a"));
    }
}
