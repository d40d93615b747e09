//! The reads: `GetItem`, `BatchGetItem` and `Query`, strongly consistent, as the
//! aggregates ask for them.

use super::Wire;
use super::typed::Decoded;
use super::values::{ItemIn, ItemOut};
use crate::dynamo::errors::unavailable;
use crate::dynamo::items::Item;
use crate::dynamo::table::{QueryPage, TypedPage};
use crate::store::StoreError;
use aws_sdk_dynamodb::operation::query::builders::QueryInputBuilder;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

impl Wire {
    /// `GetItem`, strongly consistent.
    pub(in crate::dynamo) async fn get_item(
        &self,
        table: &str,
        key: &Item,
        projection: Option<&str>,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            item: Option<ItemIn>,
        }
        let body = GetItem::of(table, key, projection);
        let answer: Answer = self.call("GetItem", &body, operation).await?;
        Ok(answer.item.map(|i| i.0))
    }

    /// `BatchGetItem` of `keys` in `table`, strongly consistent: what it found, and the
    /// keys DynamoDB left unprocessed.
    pub(in crate::dynamo) async fn batch_get_item(
        &self,
        table: &str,
        keys: &[Item],
        projection: Option<&str>,
        operation: &str,
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Keys<'a> {
            keys: Vec<ItemOut<'a>>,
            consistent_read: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            projection_expression: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct BatchGet<'a> {
            request_items: HashMap<&'a str, Keys<'a>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Unprocessed {
            #[serde(default)]
            keys: Vec<ItemIn>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            responses: HashMap<String, Vec<ItemIn>>,
            #[serde(default)]
            unprocessed_keys: HashMap<String, Unprocessed>,
        }
        let keys = Keys {
            keys: keys.iter().map(ItemOut).collect(),
            consistent_read: true,
            projection_expression: projection,
        };
        let body = BatchGet {
            request_items: HashMap::from([(table, keys)]),
        };
        let mut answer: Answer = self.call("BatchGetItem", &body, operation).await?;
        let found = answer.responses.remove(table).unwrap_or_default();
        let rest = answer
            .unprocessed_keys
            .remove(table)
            .map(|u| u.keys)
            .unwrap_or_default();
        Ok((
            found.into_iter().map(|i| i.0).collect(),
            rest.into_iter().map(|i| i.0).collect(),
        ))
    }

    /// One page of the query `input` describes, from `start`.
    pub(in crate::dynamo) async fn query(
        &self,
        table: &str,
        input: &QueryInputBuilder,
        start: Option<&Item>,
        operation: &str,
    ) -> Result<QueryPage, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[serde(default)]
            items: Vec<ItemIn>,
            last_evaluated_key: Option<ItemIn>,
        }
        let body = QueryRequest::of(table, input, start)
            .map_err(|e| StoreError::Internal(format!("{operation}: {e}")))?;
        let answer: Answer = self.call("Query", &body, operation).await?;
        Ok(QueryPage {
            items: answer.items.into_iter().map(|i| i.0).collect(),
            next: answer.last_evaluated_key.map(|i| i.0),
        })
    }
}

impl Wire {
    /// [`get_item`](Self::get_item), the item read straight into `T`
    /// ([`typed`](super::typed)).
    pub(in crate::dynamo) async fn get_item_as<T: DeserializeOwned>(
        &self,
        table: &str,
        key: &Item,
        operation: &str,
    ) -> Result<Option<T>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase", bound = "T: DeserializeOwned")]
        struct Answer<T> {
            item: Option<Decoded<T>>,
        }
        let body = GetItem::of(table, key, None);
        let answer: Answer<T> = self
            .call_reading("GetItem", &body, operation, items_understood)
            .await?;
        Ok(answer.item.map(|i| i.0))
    }

    /// One page of the query `input` describes, from `start`, each item read straight
    /// into `T` ([`typed`](super::typed)).
    pub(in crate::dynamo) async fn query_as<T: DeserializeOwned>(
        &self,
        table: &str,
        input: &QueryInputBuilder,
        start: Option<&Item>,
        operation: &str,
    ) -> Result<TypedPage<T>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase", bound = "T: DeserializeOwned")]
        struct Answer<T> {
            #[serde(default)]
            items: Vec<Decoded<T>>,
            last_evaluated_key: Option<IgnoredAny>,
        }
        let body = QueryRequest::of(table, input, start)
            .map_err(|e| StoreError::Internal(format!("{operation}: {e}")))?;
        let answer: Answer<T> = self
            .call_reading("Query", &body, operation, items_understood)
            .await?;
        Ok(TypedPage {
            items: answer.items.into_iter().map(|i| i.0).collect(),
            more: answer.last_evaluated_key.is_some(),
        })
    }
}

/// An answer whose items are read as the aggregates' structs: an item that does not
/// decode is a 500 (as `from_item`'s failures are), an answer that is not JSON a 503 (as
/// any other unreadable answer). A well-formed answer of the wrong shape is a 500 too:
/// the two cannot be told apart without reading it twice.
fn items_understood<A: DeserializeOwned>(answer: &[u8], operation: &str) -> Result<A, StoreError> {
    serde_json::from_slice(answer).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            StoreError::Internal(format!("{operation}: decoding item: {e}"))
        }
        _ => unavailable(format!(
            "{operation}: DynamoDB's answer is not understood: {e}"
        )),
    })
}

/// A `GetItem` request, strongly consistent.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetItem<'a> {
    table_name: &'a str,
    key: ItemOut<'a>,
    consistent_read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    projection_expression: Option<&'a str>,
}

impl<'a> GetItem<'a> {
    fn of(table: &'a str, key: &'a Item, projection: Option<&'a str>) -> Self {
        GetItem {
            table_name: table,
            key: ItemOut(key),
            consistent_read: true,
            projection_expression: projection,
        }
    }
}

/// A `Query` request: what the SDK's builder describes, written as the SDK would.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryRequest<'a> {
    table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    select: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scan_index_forward: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_start_key: Option<ItemOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    projection_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_condition_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_names: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_values: Option<ItemOut<'a>>,
}

impl<'a> QueryRequest<'a> {
    /// The request for `input` on `table`, from `start`. The legacy parameters
    /// (`KeyConditions`, `QueryFilter`, ...) and consumed-capacity reports are refused
    /// rather than dropped: no query here uses them.
    fn of(
        table: &'a str,
        input: &'a QueryInputBuilder,
        start: Option<&'a Item>,
    ) -> Result<Self, &'static str> {
        if input.get_key_conditions().is_some()
            || input.get_query_filter().is_some()
            || input.get_attributes_to_get().is_some()
            || input.get_conditional_operator().is_some()
            || input.get_return_consumed_capacity().is_some()
        {
            return Err("a query with a parameter these reads do not send");
        }
        Ok(QueryRequest {
            table_name: table,
            index_name: input.get_index_name().as_deref(),
            select: input.get_select().as_ref().map(|s| s.as_str()),
            limit: *input.get_limit(),
            consistent_read: *input.get_consistent_read(),
            scan_index_forward: *input.get_scan_index_forward(),
            exclusive_start_key: start.map(ItemOut),
            projection_expression: input.get_projection_expression().as_deref(),
            filter_expression: input.get_filter_expression().as_deref(),
            key_condition_expression: input.get_key_condition_expression().as_deref(),
            expression_attribute_names: input.get_expression_attribute_names().as_ref(),
            expression_attribute_values: input
                .get_expression_attribute_values()
                .as_ref()
                .map(ItemOut),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn an_item_that_does_not_decode_is_a_500_and_an_answer_that_is_not_json_a_503() {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            #[allow(dead_code)]
            item: Option<Decoded<HashMap<String, i64>>>,
        }
        let read = |answer: &str| items_understood::<Answer>(answer.as_bytes(), "GetItem x");
        assert!(read(r#"{"Item": {"n": {"N": "1"}}}"#).is_ok());
        assert!(matches!(
            read(r#"{"Item": {"n": {"S": "one"}}}"#),
            Err(StoreError::Internal(reason)) if reason.contains("decoding item")
        ));
        for broken in [r#"{"Item": {"n": {"N": "1"#, "<html>", ""] {
            assert!(
                matches!(read(broken), Err(StoreError::Unavailable { .. })),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_query_is_sent_with_everything_its_builder_set() {
        use aws_sdk_dynamodb::operation::query::QueryInput;
        use aws_sdk_dynamodb::types::Select;
        let input = QueryInput::builder()
            .index_name("gsi1")
            .select(Select::SpecificAttributes)
            .limit(21)
            .consistent_read(true)
            .scan_index_forward(false)
            .projection_expression("#a0")
            .filter_expression("attribute_exists(x)")
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "gsi1pk")
            .expression_attribute_values(":pk", AttributeValue::S("USER#a".into()));
        let start: Item = HashMap::from([("pk".to_string(), AttributeValue::S("CONV#1".into()))]);
        let sent =
            serde_json::to_value(QueryRequest::of("t", &input, Some(&start)).unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({
                "TableName": "t",
                "IndexName": "gsi1",
                "Select": "SPECIFIC_ATTRIBUTES",
                "Limit": 21,
                "ConsistentRead": true,
                "ScanIndexForward": false,
                "ExclusiveStartKey": {"pk": {"S": "CONV#1"}},
                "ProjectionExpression": "#a0",
                "FilterExpression": "attribute_exists(x)",
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": "gsi1pk"},
                "ExpressionAttributeValues": {":pk": {"S": "USER#a"}},
            })
        );
        let bare = QueryInput::builder().key_condition_expression("pk = :pk");
        let sent = serde_json::to_value(QueryRequest::of("t", &bare, None).unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"TableName": "t", "KeyConditionExpression": "pk = :pk"})
        );
        let legacy =
            bare.return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
        assert!(QueryRequest::of("t", &legacy, None).is_err());
    }
}
