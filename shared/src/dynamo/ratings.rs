//! The customer's rating of a solved conversation: one conditional `UpdateItem` of its
//! `META` item (attributes `rating_score`, `rating_comment`, `rated_at`,
//! `rating_first_at`), which leaves its activity and inbox keys as they are.

use super::DynamoStore;
use super::items::{META, conversation_pk, key, n, s};
use super::table::values;
use super::wire::Written;
use crate::domain::{Rating, Status};
use crate::store::{ConversationRater, StoreError, StoredConversation};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

impl ConversationRater for DynamoStore {
    async fn rate(&self, seen: &StoredConversation, rating: &Rating) -> Result<(), StoreError> {
        let mut attribute_values = vec![
            (":solved", s(Status::Solved.as_str())),
            (":score", n(i64::from(rating.score.get()))),
            (":at", n(rating.rated_at)),
            (":first", n(rating.first_rated_at)),
        ];
        // The rating as read: none yet, or one first given at the same moment.
        let same_rating = match &seen.rating {
            Some(given) => {
                attribute_values.push((":seen_first", n(given.first_rated_at)));
                "rating_first_at = :seen_first"
            }
            None => "attribute_not_exists(rating_score)",
        };
        let set = "SET rating_score = :score, rated_at = :at, rating_first_at = :first";
        let expression = match &rating.comment {
            Some(comment) => {
                attribute_values.push((":comment", s(comment.as_str())));
                format!("{set}, rating_comment = :comment")
            }
            None => format!("{set} REMOVE rating_comment"),
        };
        let rate = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(conversation_pk(&seen.id), META)))
            .update_expression(expression)
            .condition_expression(format!(
                "attribute_exists(pk) AND #status = :solved AND {same_rating}"
            ))
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values(attribute_values)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match self.send_update(rate, "UpdateItem rating").await? {
            Written::Done(_) => Ok(()),
            Written::ConditionFailed(Some(_)) => Err(StoreError::Changed),
            Written::ConditionFailed(None) => Err(StoreError::NotFound),
        }
    }
}
