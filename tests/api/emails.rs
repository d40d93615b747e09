//! Emails of unread replies over HTTP, on both stores, with a real SMTP server (aiosmtpd)
//! and the server's timer sweeping every 100 ms with a 2-second quiet period: one email for
//! an unread reply, with the agent's name, the reply (escaped in the HTML part), a link and
//! a one-click List-Unsubscribe; none when the customer read the reply in time; none after
//! unsubscribing through the List-Unsubscribe URL; one email for a burst of five replies.
//! The body's unsubscribe link answers a confirmation page on GET (unsubscribing nobody)
//! whose form post unsubscribes. The "none" cases are checked once the sweep has reported
//! deciding them, and once a later email (Ann's second) has arrived.

use serde_json::json;
use std::time::Duration;
use supportzen::agent_tokens::{Claims, LOCAL_AUDIENCE, LOCAL_ISSUER};
use supportzen_shared::domain::{ConversationKey, MessageId, Reader, Scope};
use supportzen_shared::endpoint::Endpoint;
use supportzen_shared::notify::NoticeSettings;
use supportzen_tests::smtp::SmtpSink;
use supportzen_tests::*;

const CUSTOMERS: [&str; 4] = [
    "ann@example.com",
    "bob@example.com",
    "cat@example.com",
    "dan@example.com",
];

fn settings() -> NoticeSettings {
    NoticeSettings::new(
        "Support <support@example.com>",
        "https://app.example/support?conversation={id}",
        "http://127.0.0.1:1",
        "unsubscribe-secret-of-the-email-tests",
    )
    .unwrap()
}

async fn reply<S: TestStore>(app: &TestApp<S>, agent: &str, chat: &str, text: &str) -> String {
    app.agent_post(
        &agent_path(Endpoint::AgentReply, chat),
        agent,
        &json!({ "message": text }),
    )
    .await
    .ok()["message"]["messageId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until the server's timer has decided at least `read` notices as read and
/// `unsubscribed` as opted out.
async fn decided<S>(app: &TestApp<S>, read: usize, unsubscribed: usize) {
    let mut reports = app.due_work.as_ref().unwrap().reports();
    tokio::time::timeout(
        Duration::from_secs(30),
        reports
            .wait_for(|swept| swept.total.read >= read && swept.total.unsubscribed >= unsubscribed),
    )
    .await
    .expect("the sweep decides the notices within 30 s")
    .unwrap();
}

async fn unread_replies_are_emailed_once_unless_read_or_unsubscribed<S: TestStore>() {
    let sink = SmtpSink::start();
    // The links name an API at 127.0.0.1:1 (the server's port is not known before it
    // starts); the test sends their path and query to the server.
    let app = TestApp::<S>::spawn_with_emails(
        Duration::from_millis(100),
        Duration::from_secs(2),
        &sink.url(),
        settings(),
    )
    .await;
    let agent = app.agent_token("agent-7", &Scope::ALL);
    let mut chats = Vec::new();
    for customer in CUSTOMERS {
        app.provision(customer, &format!("{customer}-secret")).await;
        let token = token(&format!("{customer}-secret"), customer);
        let opened = app
            .post(LIVE_CREATE, Some(&token), &create_body(customer, "Hello?"))
            .await;
        chats.push(opened.ok()["chatId"].as_str().unwrap().to_string());
    }
    let [ann, bob, cat, dan] = [&chats[0], &chats[1], &chats[2], &chats[3]];

    // Phase one: a reply to each (five to Dan's, at once); Bob reads his at once.
    reply(
        &app,
        &agent,
        ann,
        "Try <script>alert('x')</script> & reload",
    )
    .await;
    let bobs = reply(&app, &agent, bob, "Fixed, Bob.").await;
    reply(&app, &agent, cat, "Fixed, Cat.").await;
    for i in 1..=5 {
        reply(&app, &agent, dan, &format!("Step {i} of 5")).await;
    }
    let seen = app
        .store
        .find_conversation(&ConversationKey::parse(bob).unwrap().resolve_any().unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store
        .mark_read(
            &seen,
            Reader::Customer,
            &MessageId::parse(&bobs).unwrap(),
            None,
        )
        .await
        .unwrap();

    let anns = sink.wait_for(CUSTOMERS[0], 1).await;
    let cats = sink.wait_for(CUSTOMERS[2], 1).await;
    let dans = sink.wait_for(CUSTOMERS[3], 1).await;
    decided(&app, 1, 0).await;

    // Ann's: the agent's name, the reply, escaped in HTML, the link, one-click opt-out.
    let email = &anns[0];
    let html = email.part("text/html");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("Try &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; reload"),
        "{html}"
    );
    assert!(
        email
            .part("text/plain")
            .contains("Try <script>alert('x')</script> & reload")
    );
    assert!(html.contains(&format!("https://app.example/support?conversation={ann}")));
    assert!(
        email.header("Subject").unwrap().contains("Agent agent-7"),
        "{:?}",
        email.header("Subject")
    );
    assert_eq!(
        email.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // Dan's five replies are one email quoting all five.
    let text = dans[0].part("text/plain");
    for i in 1..=5 {
        assert!(text.contains(&format!("Step {i} of 5")), "{text}");
    }

    // Phase two: Cat unsubscribes with the one-click POST her email's header names.
    let header = cats[0].header("List-Unsubscribe").unwrap();
    let url = header.trim_start_matches('<').trim_end_matches('>');
    let path = url.strip_prefix("http://127.0.0.1:1").unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", app.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // A forged token is refused, naming the field.
    let forged = app
        .post_bytes(
            &format!(
                "{}?token=Y2F0QGV4YW1wbGUuY29t.AAAA",
                Endpoint::Unsubscribe.path()
            ),
            None,
            Vec::new(),
        )
        .await;
    forged.bad_field("token");

    // The body's link is the same URL; opened (a GET, as a mail scanner would) it
    // answers a confirmation page and unsubscribes nobody: Ann gets her second email.
    let text = anns[0].part("text/plain");
    let link = text
        .lines()
        .find_map(|line| line.strip_prefix("No more of these emails: "))
        .unwrap_or_else(|| panic!("no unsubscribe link in {text}"))
        .trim();
    assert!(
        anns[0]
            .part("text/html")
            .contains(&format!("<a href=\"{}\">", link.replace('&', "&amp;"))),
        "the HTML part links it too"
    );
    let path = link.strip_prefix("http://127.0.0.1:1").unwrap();
    let page = reqwest::get(format!("{}{path}", app.base_url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    let token = path.split_once("token=").unwrap().1;
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(
        html.contains(&format!("action=\"?token={token}\"")),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    let ann_id = supportzen_shared::domain::Email::parse(CUSTOMERS[0])
        .unwrap()
        .user_id()
        .clone();
    assert!(!app.store.unsubscribed(&ann_id).await.unwrap());
    // A bad token's page is a 400 naming the field.
    let bad = reqwest::get(format!(
        "{}{}?token=%3Cb%3Enope",
        app.base_url,
        Endpoint::Unsubscribe.path()
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("token is not an unsubscribe token"), "{html}");
    // The page's button: a browser's form post (asking for HTML) unsubscribes and says
    // so in a page. Dan's, who has had his email.
    let dans_text = dans[0].part("text/plain");
    let dans_link = dans_text
        .lines()
        .find_map(|line| line.strip_prefix("No more of these emails: "))
        .unwrap()
        .trim();
    let done = reqwest::Client::new()
        .post(format!(
            "{}{}",
            app.base_url,
            dans_link.strip_prefix("http://127.0.0.1:1").unwrap()
        ))
        .header("accept", "text/html,application/xhtml+xml")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("no more emails"));
    let dan_id = supportzen_shared::domain::Email::parse(CUSTOMERS[3])
        .unwrap()
        .user_id()
        .clone();
    assert!(app.store.unsubscribed(&dan_id).await.unwrap());

    reply(&app, &agent, cat, "Anything else, Cat?").await;
    reply(&app, &agent, ann, "Anything else, Ann?").await;
    let anns = sink.wait_for(CUSTOMERS[0], 2).await;
    decided(&app, 1, 1).await;
    assert!(
        anns[0].decoded.contains("Anything else, Ann?")
            || anns[1].decoded.contains("Anything else, Ann?")
    );
    assert_eq!(
        sink.to(CUSTOMERS[0]).len(),
        2,
        "Ann: one email per quiet period"
    );
    assert_eq!(sink.to(CUSTOMERS[1]).len(), 0, "Bob read his reply in time");
    assert_eq!(sink.to(CUSTOMERS[2]).len(), 1, "Cat unsubscribed");
    assert_eq!(
        sink.to(CUSTOMERS[3]).len(),
        1,
        "Dan: five replies, one email"
    );
}

/// Waits until the server's timer has emailed agents `emailed` times and decided `read`
/// agents' or customers' notices as read.
async fn agents_decided<S>(app: &TestApp<S>, emailed: usize, read: usize) {
    let mut reports = app.due_work.as_ref().unwrap().reports();
    tokio::time::timeout(
        Duration::from_secs(30),
        reports.wait_for(|swept| swept.total.agents_emailed >= emailed && swept.total.read >= read),
    )
    .await
    .expect("the sweep decides the agents' notices within 30 s")
    .unwrap();
}

/// A customer's messages nobody on the team read within the quiet period: one email to
/// the assignee's address (their token's `email` claim, recorded when they assigned the
/// conversation to themselves), or to the team's address when nobody is assigned; none
/// when an agent read them in time; a burst of five is one email; what the customer
/// wrote is escaped in the HTML part, and the email links the console's conversation.
async fn unread_customer_messages_email_the_assignee_or_the_team<S: TestStore>() {
    let sink = SmtpSink::start();
    let settings = settings()
        .with_agents(
            Some("team@example.com"),
            Some("https://console.example/console/#conversation={id}"),
        )
        .unwrap();
    let app = TestApp::<S>::spawn_with_emails(
        Duration::from_millis(100),
        Duration::from_secs(2),
        &sink.url(),
        settings,
    )
    .await;
    // Sam's token carries his address, as Cognito's do.
    let now = supportzen_shared::domain::now_seconds() as u64;
    let sam = app.signed(&Claims {
        iss: LOCAL_ISSUER.into(),
        aud: LOCAL_AUDIENCE.into(),
        sub: "agent-7".into(),
        name: Some("Sam".into()),
        email: Some("sam@example.com".into()),
        scope: "agent.read agent.write".into(),
        iat: now,
        exp: now + 600,
    });
    let mut chats = Vec::new();
    let mut tokens = Vec::new();
    for customer in CUSTOMERS {
        app.provision(customer, &format!("{customer}-secret")).await;
        let token = token(&format!("{customer}-secret"), customer);
        let opened = app
            .post(LIVE_CREATE, Some(&token), &create_body(customer, "Hello?"))
            .await;
        chats.push(opened.ok()["chatId"].as_str().unwrap().to_string());
        tokens.push(token);
    }
    let send = |i: usize, text: String| {
        let (chat, token) = (chats[i].clone(), tokens[i].clone());
        let app = &app;
        async move {
            app.post(
                LIVE_CHAT,
                Some(&token),
                &json!({"chat_id": chat, "email": CUSTOMERS[i], "message": text}),
            )
            .await
            .ok()["messageId"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // Ann's chat: Sam takes it (his address is recorded); she writes something hostile.
    app.agent_post(
        &agent_path(Endpoint::AgentAssign, &chats[0]),
        &sam,
        &json!({"assignee": "agent-7"}),
    )
    .await
    .ok();
    send(0, "Is <script>alert('x')</script> & this normal?".into()).await;
    // Bob's: nobody's. Cat's: Sam reads her message in time. Dan's: five at once.
    send(1, "Bob here".into()).await;
    let cats = send(2, "Cat here".into()).await;
    app.agent_post(
        &agent_path(Endpoint::AgentRead, &chats[2]),
        &sam,
        &json!({"up_to": cats}),
    )
    .await
    .ok();
    for i in 1..=5 {
        send(3, format!("Dan, part {i} of 5")).await;
    }
    // Eve's: Sam answers through the API without reading in the console (no mark moves):
    // answered is dealt with, so no agents' email.
    let eve = "eve@example.com";
    app.provision(eve, "eve-secret").await;
    let eves = app
        .post(
            LIVE_CREATE,
            Some(&token("eve-secret", eve)),
            &create_body(eve, "Eve here"),
        )
        .await
        .ok()["chatId"]
        .as_str()
        .unwrap()
        .to_string();
    reply(&app, &sam, &eves, "Answered without opening it").await;

    let sams = sink.wait_for("sam@example.com", 1).await;
    let teams = sink.wait_for("team@example.com", 2).await;
    agents_decided(&app, 3, 2).await;

    let email = &sams[0];
    let subject = email.header("Subject").unwrap();
    assert!(subject.contains(CUSTOMERS[0]), "{subject}");
    let html = email.part("text/html");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("Is &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; this normal?"),
        "{html}"
    );
    assert!(
        html.contains("Hello?"),
        "the opening message is unread too: {html}"
    );
    assert!(
        html.contains(&format!(
            "https://console.example/console/#conversation={}",
            chats[0]
        )),
        "{html}"
    );
    assert!(
        email
            .part("text/plain")
            .contains("Is <script>alert('x')</script> & this normal?")
    );
    assert_eq!(email.header("List-Unsubscribe"), None, "staff: no opt-out");

    let about = |customer: &str| {
        sink.to("team@example.com")
            .into_iter()
            .filter(|m| m.header("Subject").unwrap().contains(customer))
            .count()
    };
    assert_eq!(teams.len(), 2, "{teams:?}");
    assert_eq!(about(CUSTOMERS[1]), 1, "Bob's chat is nobody's: the team's");
    assert_eq!(about(CUSTOMERS[3]), 1, "Dan: five messages, one email");
    let dans = teams
        .iter()
        .find(|m| m.header("Subject").unwrap().contains(CUSTOMERS[3]))
        .unwrap()
        .part("text/plain");
    for i in 1..=5 {
        assert!(dans.contains(&format!("Dan, part {i} of 5")), "{dans}");
    }
    assert_eq!(about(CUSTOMERS[2]), 0, "Sam read Cat's in time");
    assert_eq!(about(eve), 0, "Sam answered Eve's");
    assert_eq!(sink.to("sam@example.com").len(), 1);
    // Customers get nothing of this.
    for customer in CUSTOMERS {
        assert!(sink.to(customer).is_empty(), "{customer}");
    }
}

for_each_store!(
    unread_replies_are_emailed_once_unless_read_or_unsubscribed,
    unread_customer_messages_email_the_assignee_or_the_team,
);
