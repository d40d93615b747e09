//! The writes: `UpdateItem`, `PutItem`, `DeleteItem` and `TransactWriteItems`, each
//! described with the SDK's builder as before and sent here. A failed condition and a
//! cancelled transaction are answers the aggregates read (the item as it was, the
//! reasons per action), not errors.

use super::values::{ItemIn, ItemOut};
use super::{Wire, understood};
use crate::dynamo::items::Item;
use crate::store::StoreError;
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemInputBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemInputBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemInputBuilder;
use aws_sdk_dynamodb::types::{
    CancellationReason, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a single-item write did.
#[derive(Debug, PartialEq)]
pub(in crate::dynamo) enum Written {
    /// Written: the attributes its `ReturnValues` asked for (`None` unless it asked).
    Done(Option<Item>),
    /// Its condition failed and nothing was written: the item as it was, when
    /// `ReturnValuesOnConditionCheckFailure` asked for it and there was one.
    ConditionFailed(Option<Item>),
}

impl Written {
    /// What a write whose condition should not fail wrote (one with no condition, or one
    /// whose condition only guards against a bug): a failed condition is a 500.
    pub(in crate::dynamo) fn unconditional(
        self,
        operation: &str,
    ) -> Result<Option<Item>, StoreError> {
        match self {
            Written::Done(returned) => Ok(returned),
            Written::ConditionFailed(_) => Err(StoreError::Internal(format!(
                "{operation}: its condition failed"
            ))),
        }
    }

    /// Whether it was written (else its condition failed).
    pub(in crate::dynamo) fn is_done(&self) -> bool {
        matches!(self, Written::Done(_))
    }
}

impl Wire {
    /// `UpdateItem` as `input` describes it.
    pub(in crate::dynamo) async fn update_item(
        &self,
        input: &UpdateItemInputBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        let request = WriteRequest::update(input).map_err(|e| not_sent(operation, e))?;
        self.write("UpdateItem", &request, operation).await
    }

    /// `PutItem` as `input` describes it.
    pub(in crate::dynamo) async fn put_item(
        &self,
        input: &PutItemInputBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        let request = WriteRequest::put(input).map_err(|e| not_sent(operation, e))?;
        self.write("PutItem", &request, operation).await
    }

    /// `DeleteItem` as `input` describes it.
    pub(in crate::dynamo) async fn delete_item(
        &self,
        input: &DeleteItemInputBuilder,
        operation: &str,
    ) -> Result<Written, StoreError> {
        let request = WriteRequest::delete(input).map_err(|e| not_sent(operation, e))?;
        self.write("DeleteItem", &request, operation).await
    }

    /// `TransactWriteItems` of `actions` with `token` as its `ClientRequestToken`, which
    /// every retry of this call carries (the body is sent again as it is): `Ok` if it
    /// committed, else DynamoDB's cancellation reasons, one per action in order.
    pub(in crate::dynamo) async fn transact_write_items(
        &self,
        actions: &[TransactWriteItem],
        token: &str,
        operation: &str,
    ) -> Result<Result<(), Vec<CancellationReason>>, StoreError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Transaction<'a> {
            transact_items: Vec<Action<'a>>,
            client_request_token: &'a str,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Cancelled {
            cancellation_reasons: Option<Vec<Reason>>,
        }
        let transaction = Transaction {
            transact_items: actions
                .iter()
                .map(Action::of)
                .collect::<Result<_, _>>()
                .map_err(|e| not_sent(operation, e))?,
            client_request_token: token,
        };
        match self
            .exchange("TransactWriteItems", &transaction, operation)
            .await?
        {
            Ok(_) => Ok(Ok(())),
            Err(refusal) if refusal.is("TransactionCanceledException") => {
                let cancelled: Cancelled = understood(&refusal.answer, operation)?;
                Ok(Err(cancelled
                    .cancellation_reasons
                    .unwrap_or_default()
                    .into_iter()
                    .map(Reason::into_sdk)
                    .collect()))
            }
            Err(refusal) => Err(refusal.into_error(operation)),
        }
    }

    async fn write(
        &self,
        target: &str,
        request: &WriteRequest<'_>,
        operation: &str,
    ) -> Result<Written, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            attributes: Option<ItemIn>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Failed {
            item: Option<ItemIn>,
        }
        match self.exchange(target, request, operation).await? {
            Ok(answer) => {
                let answer: Answer = understood(&answer, operation)?;
                Ok(Written::Done(answer.attributes.map(|i| i.0)))
            }
            Err(refusal) if refusal.is("ConditionalCheckFailedException") => {
                let failed: Failed = understood(&refusal.answer, operation)?;
                Ok(Written::ConditionFailed(failed.item.map(|i| i.0)))
            }
            Err(refusal) => Err(refusal.into_error(operation)),
        }
    }
}

fn not_sent(operation: &str, why: &str) -> StoreError {
    StoreError::Internal(format!("{operation}: {why}"))
}

/// One write, alone or as a transaction's action: the members the four kinds share, as
/// the SDK writes them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WriteRequest<'a> {
    table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<ItemOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<ItemOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_names: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression_attribute_values: Option<ItemOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values_on_condition_check_failure: Option<&'a str>,
}

impl<'a> WriteRequest<'a> {
    /// A write of `table` with nothing else set yet.
    fn on(table: &'a str) -> Self {
        WriteRequest {
            table_name: table,
            key: None,
            item: None,
            update_expression: None,
            condition_expression: None,
            expression_attribute_names: None,
            expression_attribute_values: None,
            return_values: None,
            return_values_on_condition_check_failure: None,
        }
    }

    /// The members the three single-item writes share, as their builders hold them.
    fn conditional(
        table: &'a Option<String>,
        condition: &'a Option<String>,
        names: &'a Option<HashMap<String, String>>,
        values: &'a Option<Item>,
        returned: &'a Option<ReturnValue>,
        on_failure: &'a Option<ReturnValuesOnConditionCheckFailure>,
    ) -> Result<Self, &'static str> {
        Ok(WriteRequest {
            condition_expression: condition.as_deref(),
            expression_attribute_names: names.as_ref(),
            expression_attribute_values: values.as_ref().map(ItemOut),
            return_values: returned.as_ref().map(|r| r.as_str()),
            return_values_on_condition_check_failure: on_failure.as_ref().map(|r| r.as_str()),
            ..WriteRequest::on(table.as_deref().ok_or("a write with no table name")?)
        })
    }

    fn update(input: &'a UpdateItemInputBuilder) -> Result<Self, &'static str> {
        refuse_legacy(&[
            input.get_attribute_updates().is_some(),
            input.get_expected().is_some(),
            input.get_conditional_operator().is_some(),
            input.get_return_consumed_capacity().is_some(),
            input.get_return_item_collection_metrics().is_some(),
        ])?;
        Ok(WriteRequest {
            key: Some(ItemOut(input.get_key().as_ref().ok_or(NO_KEY)?)),
            update_expression: Some(
                input
                    .get_update_expression()
                    .as_deref()
                    .ok_or("an update with no update expression")?,
            ),
            ..WriteRequest::conditional(
                input.get_table_name(),
                input.get_condition_expression(),
                input.get_expression_attribute_names(),
                input.get_expression_attribute_values(),
                input.get_return_values(),
                input.get_return_values_on_condition_check_failure(),
            )?
        })
    }

    fn put(input: &'a PutItemInputBuilder) -> Result<Self, &'static str> {
        refuse_legacy(&[
            input.get_expected().is_some(),
            input.get_conditional_operator().is_some(),
            input.get_return_consumed_capacity().is_some(),
            input.get_return_item_collection_metrics().is_some(),
        ])?;
        Ok(WriteRequest {
            item: Some(ItemOut(
                input.get_item().as_ref().ok_or("a put with no item")?,
            )),
            ..WriteRequest::conditional(
                input.get_table_name(),
                input.get_condition_expression(),
                input.get_expression_attribute_names(),
                input.get_expression_attribute_values(),
                input.get_return_values(),
                input.get_return_values_on_condition_check_failure(),
            )?
        })
    }

    fn delete(input: &'a DeleteItemInputBuilder) -> Result<Self, &'static str> {
        refuse_legacy(&[
            input.get_expected().is_some(),
            input.get_conditional_operator().is_some(),
            input.get_return_consumed_capacity().is_some(),
            input.get_return_item_collection_metrics().is_some(),
        ])?;
        Ok(WriteRequest {
            key: Some(ItemOut(input.get_key().as_ref().ok_or(NO_KEY)?)),
            ..WriteRequest::conditional(
                input.get_table_name(),
                input.get_condition_expression(),
                input.get_expression_attribute_names(),
                input.get_expression_attribute_values(),
                input.get_return_values(),
                input.get_return_values_on_condition_check_failure(),
            )?
        })
    }
}

const NO_KEY: &str = "a write with no key";

/// The legacy parameters (`Expected`, `AttributeUpdates`, ...) and the capacity reports
/// are refused rather than dropped: no write here uses them.
fn refuse_legacy(set: &[bool]) -> Result<(), &'static str> {
    if set.contains(&true) {
        Err("a write with a parameter these calls do not send")
    } else {
        Ok(())
    }
}

/// A transaction's action: exactly one of its four members is set.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Action<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    put: Option<WriteRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update: Option<WriteRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete: Option<WriteRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_check: Option<WriteRequest<'a>>,
}

/// The members every kind of transaction action has, read off a built `Put`, `Update`,
/// `Delete` or `ConditionCheck` (which share their getters' names, not a trait).
macro_rules! action_members {
    ($action:expr) => {
        WriteRequest {
            expression_attribute_names: $action.expression_attribute_names(),
            expression_attribute_values: $action.expression_attribute_values().map(ItemOut),
            return_values_on_condition_check_failure: $action
                .return_values_on_condition_check_failure()
                .map(|r| r.as_str()),
            ..WriteRequest::on($action.table_name())
        }
    };
}

impl<'a> Action<'a> {
    fn of(action: &'a TransactWriteItem) -> Result<Self, &'static str> {
        let none = Action {
            put: None,
            update: None,
            delete: None,
            condition_check: None,
        };
        Ok(if let Some(put) = action.put() {
            Action {
                put: Some(WriteRequest {
                    item: Some(ItemOut(put.item())),
                    condition_expression: put.condition_expression(),
                    ..action_members!(put)
                }),
                ..none
            }
        } else if let Some(update) = action.update() {
            Action {
                update: Some(WriteRequest {
                    key: Some(ItemOut(update.key())),
                    update_expression: Some(update.update_expression()),
                    condition_expression: update.condition_expression(),
                    ..action_members!(update)
                }),
                ..none
            }
        } else if let Some(delete) = action.delete() {
            Action {
                delete: Some(WriteRequest {
                    key: Some(ItemOut(delete.key())),
                    condition_expression: delete.condition_expression(),
                    ..action_members!(delete)
                }),
                ..none
            }
        } else if let Some(check) = action.condition_check() {
            Action {
                condition_check: Some(WriteRequest {
                    key: Some(ItemOut(check.key())),
                    condition_expression: Some(check.condition_expression()),
                    ..action_members!(check)
                }),
                ..none
            }
        } else {
            return Err("a transaction action with nothing to do");
        })
    }
}

/// One action's cancellation reason as DynamoDB's JSON gives it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reason {
    code: Option<String>,
    message: Option<String>,
    item: Option<ItemIn>,
}

impl Reason {
    fn into_sdk(self) -> CancellationReason {
        CancellationReason::builder()
            .set_code(self.code)
            .set_message(self.message)
            .set_item(self.item.map(|i| i.0))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
    use aws_sdk_dynamodb::operation::put_item::PutItemInput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
    use aws_sdk_dynamodb::types::AttributeValue as V;
    use aws_sdk_dynamodb::types::{
        ConditionCheck, Delete, Put, ReturnConsumedCapacity, ReturnValue, Update,
    };
    use serde_json::json;

    fn key() -> Item {
        HashMap::from([
            ("pk".to_string(), V::S("CONV#1".into())),
            ("sk".to_string(), V::S("META".into())),
        ])
    }

    #[test]
    fn an_update_is_sent_with_everything_its_builder_set() {
        let input = UpdateItemInput::builder()
            .table_name("t")
            .set_key(Some(key()))
            .update_expression("SET #n = :n")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#n", "name")
            .expression_attribute_values(":n", V::N("3".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let sent = serde_json::to_value(WriteRequest::update(&input).unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({
                "TableName": "t",
                "Key": {"pk": {"S": "CONV#1"}, "sk": {"S": "META"}},
                "UpdateExpression": "SET #n = :n",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#n": "name"},
                "ExpressionAttributeValues": {":n": {"N": "3"}},
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            })
        );
        let legacy = input.return_consumed_capacity(ReturnConsumedCapacity::Total);
        assert!(WriteRequest::update(&legacy).is_err());
        let no_key = UpdateItemInput::builder()
            .table_name("t")
            .update_expression("SET a = :a");
        assert!(WriteRequest::update(&no_key).is_err());
    }

    #[test]
    fn a_put_and_a_delete_are_sent_with_everything_their_builders_set() {
        let put = PutItemInput::builder()
            .table_name("t")
            .set_item(Some(key()))
            .condition_expression("attribute_not_exists(pk)");
        assert_eq!(
            serde_json::to_value(WriteRequest::put(&put).unwrap()).unwrap(),
            json!({
                "TableName": "t",
                "Item": {"pk": {"S": "CONV#1"}, "sk": {"S": "META"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            })
        );
        let delete = DeleteItemInput::builder()
            .table_name("t")
            .set_key(Some(key()))
            .return_values(ReturnValue::AllOld);
        assert_eq!(
            serde_json::to_value(WriteRequest::delete(&delete).unwrap()).unwrap(),
            json!({
                "TableName": "t",
                "Key": {"pk": {"S": "CONV#1"}, "sk": {"S": "META"}},
                "ReturnValues": "ALL_OLD",
            })
        );
        assert!(WriteRequest::put(&PutItemInput::builder().set_item(Some(key()))).is_err());
    }

    #[test]
    fn each_kind_of_transaction_action_is_sent_under_its_own_name() {
        let put = Put::builder()
            .table_name("t")
            .set_item(Some(key()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        let update = Update::builder()
            .table_name("t")
            .set_key(Some(key()))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", V::N("1".into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .unwrap();
        let delete = Delete::builder()
            .table_name("t")
            .set_key(Some(key()))
            .build()
            .unwrap();
        let check = ConditionCheck::builder()
            .table_name("t")
            .set_key(Some(key()))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", V::S("u".into()))
            .build()
            .unwrap();
        let actions = [
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().condition_check(check).build(),
        ];
        let sent: Vec<_> = actions
            .iter()
            .map(|a| serde_json::to_value(Action::of(a).unwrap()).unwrap())
            .collect();
        let key = json!({"pk": {"S": "CONV#1"}, "sk": {"S": "META"}});
        assert_eq!(
            sent,
            vec![
                json!({"Put": {"TableName": "t", "Item": key, "ConditionExpression": "attribute_not_exists(pk)"}}),
                json!({"Update": {
                    "TableName": "t", "Key": key, "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }}),
                json!({"Delete": {"TableName": "t", "Key": key}}),
                json!({"ConditionCheck": {
                    "TableName": "t", "Key": key, "ConditionExpression": "#o = :o",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":o": {"S": "u"}},
                }}),
            ]
        );
        assert!(Action::of(&TransactWriteItem::builder().build()).is_err());
    }

    #[test]
    fn cancellation_reasons_are_read_with_their_codes_messages_and_old_items() {
        let reasons: Vec<Reason> = serde_json::from_value(json!([
            {"Code": "None"},
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
             "Item": {"pk": {"S": "CONV#1"}, "sk": {"S": "META"}}},
        ]))
        .unwrap();
        let reasons: Vec<CancellationReason> = reasons.into_iter().map(Reason::into_sdk).collect();
        assert_eq!(reasons[0].code(), Some("None"));
        assert_eq!(reasons[0].item(), None);
        assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
        assert_eq!(reasons[1].message(), Some("The conditional request failed"));
        assert_eq!(reasons[1].item(), Some(&key()));
    }
}
