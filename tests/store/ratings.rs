//! The rating rules on both stores, through the rating flow with its clock given: a
//! rating changes for 24 hours after it was first given and is final after that (the
//! flow's rule, run at chosen times), and the store writes a rating only on the
//! conversation as the flow read it: still solved, and rated as it was read.

use supportzen_shared::auth::{BearerToken, Caller, Customer};
use supportzen_shared::config::Config;
use supportzen_shared::domain::{
    Author, ChatId, ConversationId, ConversationKey, Email, MessageText, NewMessage, Profile,
    RATING_CHANGE_WINDOW_MS, Rating, RatingComment, RatingScore, Status, UnixSeconds, now_millis,
};
use supportzen_shared::error::ApiError;
use supportzen_shared::flows::rating::{RateConversation, rate};
use supportzen_shared::store::{NewConversation, StoreError, StoredConversation};
use supportzen_tests::{TestStore, for_each_store};

/// Ann's solved chat, and Ann as the flow authenticates her.
async fn solved_chat<S: TestStore>(store: &S) -> (StoredConversation, Customer) {
    let email = Email::parse("ann@example.com").unwrap();
    let token = BearerToken::from_hex(&"01".repeat(32)).unwrap();
    let chat = NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner: Caller::New {
            user: email.user_id().clone(),
            pin: token.digest(),
        },
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: NewMessage::now(
            Author::Customer,
            MessageText::parse("hi").unwrap(),
            None,
            None,
        ),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at: None,
    };
    store.create_conversation(&chat).await.unwrap();
    let seen = store.find_conversation(&chat.id).await.unwrap().unwrap();
    store.set_status(&seen, Status::Solved, None).await.unwrap();
    let solved = store.find_conversation(&chat.id).await.unwrap().unwrap();
    (solved, Customer { email, token })
}

fn command(id: &ConversationId, score: i64, comment: Option<&str>) -> RateConversation {
    RateConversation {
        conversation: ConversationKey::parse(&id.key()).unwrap(),
        score: RatingScore::from_integer(score).unwrap(),
        comment: comment.map(|c| RatingComment::parse(c).unwrap()),
    }
}

async fn a_rating_changes_for_a_day_then_is_final<S: TestStore>() {
    let store = S::fresh().await;
    let (chat, ann) = solved_chat(&store).await;
    let config = Config::default();
    let first = now_millis();
    let rated = rate(
        &store,
        &config,
        &ann,
        command(&chat.id, 4, Some("Kind")),
        first,
    )
    .await
    .unwrap();
    assert_eq!(rated.data.rating.rated_at, first);
    // Changed just before the day is out: overwritten, the window still from the first.
    let last_moment = first + RATING_CHANGE_WINDOW_MS - 1;
    rate(
        &store,
        &config,
        &ann,
        command(&chat.id, 2, None),
        last_moment,
    )
    .await
    .unwrap();
    let stored = store.find_conversation(&chat.id).await.unwrap().unwrap();
    let expected = Rating {
        score: RatingScore::from_integer(2).unwrap(),
        comment: None,
        rated_at: last_moment,
        first_rated_at: first,
    };
    assert_eq!(stored.rating, Some(expected.clone()));
    // A day after the first rating: refused, whatever the rating, and nothing changes.
    for (score, at) in [
        (5, first + RATING_CHANGE_WINDOW_MS),
        (2, first + 2 * RATING_CHANGE_WINDOW_MS),
    ] {
        let refused = rate(&store, &config, &ann, command(&chat.id, score, None), at).await;
        match refused {
            Err(ApiError::Conflict { code, .. }) => assert_eq!(code, "rating_final"),
            other => panic!("expected rating_final, got {other:?}"),
        }
    }
    let stored = store.find_conversation(&chat.id).await.unwrap().unwrap();
    assert_eq!(stored.rating, Some(expected));
}

async fn the_store_rates_only_the_conversation_as_read<S: TestStore>() {
    let store = S::fresh().await;
    let (chat, _) = solved_chat(&store).await;
    let rating = |score: i64, at: i64| Rating {
        score: RatingScore::from_integer(score).unwrap(),
        comment: Some(RatingComment::parse("fine").unwrap()),
        rated_at: at,
        first_rated_at: at,
    };
    let now = now_millis();
    store.rate(&chat, &rating(3, now)).await.unwrap();
    // Read before that rating: it changed since.
    let refused = store.rate(&chat, &rating(1, now + 1)).await;
    assert!(matches!(refused, Err(StoreError::Changed)), "{refused:?}");
    let rated = store.find_conversation(&chat.id).await.unwrap().unwrap();
    assert_eq!(rated.rating, Some(rating(3, now)));
    // Read with it: overwritten, the first time kept by the caller.
    let change = Rating {
        first_rated_at: now,
        ..rating(5, now + 2)
    };
    store.rate(&rated, &change).await.unwrap();
    let rated = store.find_conversation(&chat.id).await.unwrap().unwrap();
    assert_eq!(rated.rating, Some(change.clone()));
    // No longer solved: refused, as for a conversation that is gone.
    store.set_status(&rated, Status::Open, None).await.unwrap();
    let refused = store.rate(&rated, &rating(1, now + 3)).await;
    assert!(matches!(refused, Err(StoreError::Changed)), "{refused:?}");
    let ghost = StoredConversation {
        id: ConversationId::Chat(ChatId::generate()),
        ..rated.clone()
    };
    let refused = store.rate(&ghost, &rating(1, now + 4)).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    let stored = store.find_conversation(&chat.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.rating), (Status::Open, Some(change)));
}

for_each_store!(
    a_rating_changes_for_a_day_then_is_final,
    the_store_rates_only_the_conversation_as_read,
);
