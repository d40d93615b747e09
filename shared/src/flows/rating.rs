//! A customer rates a solved conversation of theirs: 1 to 5, with an optional comment.
//! One rating per conversation; the customer may change it for 24 hours after they
//! first gave it, and it is final after that. Rating the same way again changes nothing.

use super::agent::ATTEMPTS;
use super::{Answer, authenticated, own_conversation};
use crate::auth::Customer;
use crate::config::Config;
use crate::domain::{ConversationKey, Rating, RatingComment, RatingScore, Status};
use crate::error::ApiError;
use crate::store::{ConversationRater, ConversationReader, StoreError, UserReader};
use serde::Serialize;
use std::time::Duration;

/// What the rating route asks for.
#[derive(Clone, Debug)]
pub struct RateConversation {
    pub conversation: ConversationKey,
    pub score: RatingScore,
    pub comment: Option<RatingComment>,
}

/// A rating as clients see it (the customer's list, the agents' conversation and inbox).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingView {
    pub rating: u8,
    pub comment: Option<String>,
    /// Unix milliseconds: when it was given or last changed.
    pub rated_at: i64,
}

impl From<&Rating> for RatingView {
    fn from(rating: &Rating) -> Self {
        RatingView {
            rating: rating.score.get(),
            comment: rating.comment.as_ref().map(|c| c.as_str().to_string()),
            rated_at: rating.rated_at,
        }
    }
}

/// `data` of the rating route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rated {
    pub conversation_id: String,
    pub rating: RatingView,
}

/// The 409 for a conversation that is not solved.
pub const NOT_SOLVED: ApiError = ApiError::Conflict {
    code: "conversation_not_solved",
    message: "only a solved conversation can be rated: rate it once an agent has marked it solved",
};

/// The 409 for a rating first given 24 hours ago or more.
pub const RATING_FINAL: ApiError = ApiError::Conflict {
    code: "rating_final",
    message: "this conversation was rated more than 24 hours ago, and its rating can no longer be changed",
};

/// Rates `customer`'s conversation at `now` (milliseconds; the handler passes the
/// clock's, tests another time).
pub async fn rate<S>(
    store: &S,
    config: &Config,
    customer: &Customer,
    command: RateConversation,
    now: i64,
) -> Result<Answer<Rated>, ApiError>
where
    S: UserReader + ConversationReader + ConversationRater,
{
    let user = customer.email.user_id();
    let resolved = command.conversation.resolve_any();
    for _ in 0..ATTEMPTS {
        let read = match &resolved {
            Some(id) => store.find_user_and_conversation(user, id).await,
            None => store.find_user(user).await.map(|found| (found, None)),
        };
        let (caller, conversation) = authenticated(config, customer, "conversation", read, now)?;
        let seen = own_conversation(&caller, conversation)?;
        if seen.status != Status::Solved {
            return Err(NOT_SOLVED);
        }
        let first_rated_at = match &seen.rating {
            Some(given) if !given.changeable_at(now) => return Err(RATING_FINAL),
            Some(given) if given.score == command.score && given.comment == command.comment => {
                return Ok(Answer::fresh(Rated {
                    conversation_id: seen.id.key(),
                    rating: given.into(),
                }));
            }
            Some(given) => given.first_rated_at,
            None => now,
        };
        let rating = Rating {
            score: command.score,
            comment: command.comment.clone(),
            rated_at: now,
            first_rated_at,
        };
        match store.rate(&seen, &rating).await {
            Ok(()) => {
                return Ok(Answer::fresh(Rated {
                    conversation_id: seen.id.key(),
                    rating: (&rating).into(),
                }));
            }
            Err(StoreError::Changed) => continue,
            Err(err) => return Err(ApiError::from_store(err, "conversation")),
        }
    }
    Err(ApiError::Unavailable {
        retry_after: Duration::from_secs(1),
        reason: format!("conversation changed {ATTEMPTS} times while being rated"),
    })
}
