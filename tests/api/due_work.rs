//! Due work over HTTP, on both stores, with the server's timer sweeping every 100 ms
//! (`serve --due-every 0.1`): a conversation an agent snoozes reopens at its time, once.

use serde_json::json;
use std::time::{Duration, Instant};
use supportzen_shared::domain::{Scope, now_millis};
use supportzen_shared::endpoint::Endpoint;
use supportzen_tests::*;

const ANN: &str = "ann@example.com";
const ANN_SECRET: &str = "ann-secret";

async fn a_snoozed_conversation_reopens_at_its_time_once<S: TestStore>() {
    let app = TestApp::<S>::spawn_with_due_work(Duration::from_millis(100)).await;
    app.provision(ANN, ANN_SECRET).await;
    let (ann, agent) = (
        token(ANN_SECRET, ANN),
        app.agent_token("agent-7", &Scope::ALL),
    );
    let ticket = app
        .post(TICKET_CREATE, Some(&ann), &create_body(ANN, "Export fails"))
        .await
        .ok()["ticketId"]
        .as_str()
        .unwrap()
        .to_string();
    let until = now_millis() + 1_500;
    let pending = app
        .agent_post(
            &agent_path(Endpoint::AgentStatus, &ticket),
            &agent,
            &json!({"status": "pending", "snooze_until": until}),
        )
        .await;
    assert_eq!(pending.ok()["status"], "pending");

    let path = agent_path(Endpoint::AgentConversation, &ticket);
    let deadline = Instant::now() + Duration::from_secs(30);
    let reopened_at = loop {
        let got = app.agent_get(&path, &agent).await;
        let now = now_millis();
        if got.ok()["status"] == "open" {
            assert_eq!(got.ok()["snoozedUntil"], serde_json::Value::Null);
            break now;
        }
        assert_eq!(got.ok()["status"], "pending", "nothing else moves it");
        assert!(Instant::now() < deadline, "not reopened within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(reopened_at >= until, "reopened before its time");

    // Once: after two more sweeps, the timer has woken exactly one conversation.
    let mut reports = app.due_work.as_ref().unwrap().reports();
    let after = reports.borrow().sweeps + 2;
    tokio::time::timeout(
        Duration::from_secs(30),
        reports.wait_for(|swept| swept.sweeps >= after),
    )
    .await
    .expect("the timer sweeps")
    .unwrap();
    assert_eq!(reports.borrow().total.woken, 1);
    assert_eq!(app.agent_get(&path, &agent).await.ok()["status"], "open");
}

for_each_store!(a_snoozed_conversation_reopens_at_its_time_once);
