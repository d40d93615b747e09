//! What commands print: one JSON object a line for listings, a sentence for a change.

use supportzen_shared::store::SecretChange;

/// Prints each item as one line of JSON.
pub fn print_json_lines<T: serde::Serialize>(items: impl Iterator<Item = T>) -> Result<(), String> {
    for item in items {
        println!(
            "{}",
            serde_json::to_string(&item).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// What `users put` did, in words.
pub fn secret_change(user: &str, change: SecretChange, grace_hours: u32) -> String {
    match change {
        SecretChange::First => {
            format!("user {user} now authenticates with the provisioned secret")
        }
        SecretChange::Unchanged => format!("user {user} already has this secret; nothing changed"),
        SecretChange::Replaced if grace_hours == 0 => format!(
            "user {user} now authenticates with the new secret; the replaced secret no longer works"
        ),
        SecretChange::Replaced => format!(
            "user {user} now authenticates with the new secret; the replaced secret stays valid for {grace_hours} h"
        ),
    }
}
