//! Unread-reply emails (and an agents' email of a customer's unread message) as production
//! sends them: the sweep on DynamoDB Local with `SesMailer` (SES v2 `SendEmail`, raw MIME,
//! signed with SigV4) on an SES-compatible server: moto's, which ./scripts/test starts and
//! names in `AWS_ENDPOINT_URL_SESV2`. moto keeps SES's rule that the sender must be a
//! verified identity, and counts what it accepted (`GetSendQuota`'s `SentLast24Hours`); it
//! does not deliver. The test runs alone against this count: no other test sends through
//! SES.

use serde_json::json;
use supportzen_shared::auth::{BearerToken, Caller};
use supportzen_shared::domain::{
    Agent, AgentId, Author, ChatId, ConversationId, DisplayName, Email, MessageText, NewMessage,
    Profile, UnixSeconds, now_millis,
};
use supportzen_shared::flows::due::{Notices, sweep_with};
use supportzen_shared::notify::NoticeSettings;
use supportzen_shared::s3::Credentials;
use supportzen_shared::ses::SesMailer;
use supportzen_shared::store::{
    AgentReader, AgentWriter, ConversationCreator, DueWork, NewConversation,
};
use supportzen_tests::dynamo::fresh_dynamo_store;

/// The SES-compatible server ./scripts/test started.
fn server() -> String {
    std::env::var("AWS_ENDPOINT_URL_SESV2").expect(
        "AWS_ENDPOINT_URL_SESV2 names no SES-compatible server: run these tests with ./scripts/test, which starts one",
    )
}

fn mailer() -> SesMailer {
    let credentials = Credentials {
        access_key_id: "local".into(),
        secret_access_key: "local".into(),
        session_token: None,
    };
    SesMailer::new(&server(), "us-east-1", credentials).unwrap()
}

fn settings(from: &str) -> NoticeSettings {
    NoticeSettings::new(
        from,
        "https://app.example/support?conversation={id}",
        "https://api.example",
        "unsubscribe-secret-of-the-ses-test-0",
    )
    .unwrap()
}

/// How many emails moto's SES accepted (SES v1's GetSendQuota, which moto answers from
/// the same count SES v2's SendEmail adds to).
async fn sent() -> f64 {
    let answer = reqwest::Client::new()
        .post(format!("{}/", server()))
        .header("content-type", "application/x-www-form-urlencoded")
        // moto reads the service from the credential scope; it checks no signature.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=local/20261206/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body("Action=GetSendQuota&Version=2010-12-01")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, rest) = answer.split_once("<SentLast24Hours>").expect(&answer);
    rest.split('<').next().unwrap().parse().unwrap()
}

/// An open chat of `owner`'s with one agent reply whose notice is due now.
async fn replied_chat(
    store: &supportzen_shared::dynamo::DynamoStore,
    owner: &str,
    due_at: i64,
) -> ConversationId {
    let chat = opened_chat(store, owner, None).await;
    let mut reply = NewMessage::now(
        Author::Agent,
        MessageText::parse("Here to help <b>").unwrap(),
        None,
        None,
    );
    reply.agent = Some(Agent {
        id: AgentId::parse("agent-7").unwrap(),
        name: DisplayName::parse("Sam").unwrap(),
    });
    let seen = store.find_conversation(&chat).await.unwrap().unwrap();
    store
        .add_agent_message(&seen, &reply, Some(due_at), None)
        .await
        .unwrap();
    chat
}

/// An open chat of `owner`'s (a new user), its opening message's agents' notice due at
/// `notice_at`, if given.
async fn opened_chat(
    store: &supportzen_shared::dynamo::DynamoStore,
    owner: &str,
    notice_at: Option<i64>,
) -> ConversationId {
    let user = Email::parse(owner).unwrap().user_id().clone();
    let pin = BearerToken::from_hex(&"01".repeat(32)).unwrap().digest();
    let chat = NewConversation {
        id: ConversationId::Chat(ChatId::generate()),
        owner: Caller::New { user, pin },
        profile: Profile {
            name: None,
            plan_id: None,
            account_created_at: UnixSeconds::parse(1_679_223_400).unwrap(),
        },
        first_message: NewMessage::now(
            Author::Customer,
            MessageText::parse("Hello?").unwrap(),
            None,
            None,
        ),
        follow_up_of: None,
        receipt: None,
        source: None,
        notice_at,
    };
    store.create_conversation(&chat).await.unwrap();
    chat.id
}

#[tokio::test]
async fn the_sweep_sends_through_ses_v2_from_a_verified_sender_only() {
    let (store, _) = fresh_dynamo_store().await;
    let mailer = mailer();
    let sender = format!("support-{}@example.com", uuid::Uuid::now_v7().simple());
    let verified = mailer
        .call(
            "/v2/email/identities",
            json!({ "EmailIdentity": sender }).to_string().into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(verified.0, 200, "{verified:?}");

    let now = now_millis();
    let chat = replied_chat(&store, "ann@example.com", now).await;
    let before = sent().await;
    let notices = Notices {
        mailer: mailer.clone(),
        settings: settings(&format!("Support <{sender}>")),
    };
    let report = sweep_with(&store, Some(&notices), now).await.unwrap();
    assert_eq!((report.emailed, report.failed), (1, 0), "{report:?}");
    // moto counts each recipient twice for a raw email (the Destination's and the To
    // header's), so: more than before.
    let after = sent().await;
    assert!(after > before, "{before} then {after}");
    // Taken: the next sweep sends nothing.
    assert_eq!(
        sweep_with(&store, Some(&notices), now)
            .await
            .unwrap()
            .emailed,
        0
    );
    assert!(
        store.due(now + 60_000, 10).await.unwrap().is_empty(),
        "{chat:?}"
    );

    // A customer's message no agent read: one email to the team's address, through the
    // same mailer from the same sender.
    opened_chat(&store, "cat@example.com", Some(now)).await;
    let team = Notices {
        mailer: mailer.clone(),
        settings: settings(&format!("Support <{sender}>"))
            .with_agents(
                Some("team@example.com"),
                Some("https://console.example/console/#conversation={id}"),
            )
            .unwrap(),
    };
    let report = sweep_with(&store, Some(&team), now).await.unwrap();
    assert_eq!((report.agents_emailed, report.failed), (1, 0), "{report:?}");
    let before = after;
    let after = sent().await;
    assert!(after > before, "{before} then {after}");

    // From an address SES has not verified, SendEmail is refused: counted as failed,
    // and the notice is set again a minute later.
    let chat = replied_chat(&store, "bob@example.com", now).await;
    let unverified = Notices {
        mailer,
        settings: settings("Support <nobody-verified@example.org>"),
    };
    let report = sweep_with(&store, Some(&unverified), now).await.unwrap();
    assert_eq!((report.emailed, report.failed), (0, 1), "{report:?}");
    assert_eq!(sent().await, after);
    let again = store.due(now + 60_000, 10).await.unwrap();
    assert!(
        matches!(again.as_slice(), [supportzen_shared::store::Due::UnreadReplies { conversation, .. }] if *conversation == chat),
        "{again:?}"
    );
}
