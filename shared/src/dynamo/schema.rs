//! The table's key schema and indexes: the one definition `supportzen table create`
//! uses and `template.yaml` must match (a test checks that they agree).

use super::errors::describe;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

/// Partition key of every item.
pub const PARTITION_KEY: &str = "pk";
/// Sort key of every item.
pub const SORT_KEY: &str = "sk";
/// Items with this attribute (epoch seconds) are deleted by DynamoDB's TTL.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// A global secondary index; both keys are strings and every attribute is projected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// A user's conversations, newest first.
pub const BY_OWNER: Index = Index {
    name: "by-owner",
    partition_key: "gsi1pk",
    sort_key: "gsi1sk",
};

/// The agents' inbox: conversations by kind (in shards), status and last activity. It
/// keeps the name it had when it held open conversations only: renaming an index of a
/// deployed table means rebuilding it.
pub const INBOX: Index = Index {
    name: "open-by-activity",
    partition_key: "gsi2pk",
    sort_key: "gsi2sk",
};

/// The inbox per assignee (or unassigned), in the same shards and order.
pub const BY_ASSIGNEE: Index = Index {
    name: "by-assignee",
    partition_key: "gsi3pk",
    sort_key: "gsi3sk",
};

/// Due work, sparse: only items with something due carry its keys (a snoozed
/// conversation's `META`), in [`DUE_SHARDS`](super::items::DUE_SHARDS) partitions sorted
/// by due time, so a sweep is one query per shard for the keys up to now.
pub const DUE_WORK: Index = Index {
    name: "due-work",
    partition_key: "gsi4pk",
    sort_key: "gsi4sk",
};

pub const INDEXES: [Index; 4] = [BY_OWNER, INBOX, BY_ASSIGNEE, DUE_WORK];

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// What `supportzen table create` found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableCreated {
    /// The table was created, with its indexes and TTL, and is active.
    Created,
    /// A table of that name with these keys and indexes was already there.
    AlreadyThere,
}

/// Creates the table (on-demand billing) with its indexes and TTL, and waits until it is
/// active. A table of that name that is already there is accepted if its keys and
/// indexes are these (its TTL is switched on if it was off), and refused otherwise.
pub async fn create_table(client: &Client, table: &str) -> Result<TableCreated, String> {
    match check_table(client, table).await {
        Ok(()) => {
            enable_ttl(client, table).await?;
            return Ok(TableCreated::AlreadyThere);
        }
        Err(TableProblem::Missing) => {}
        Err(problem) => return Err(problem.to_string()),
    }
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .attribute_definitions(string_attribute(PARTITION_KEY))
        .attribute_definitions(string_attribute(SORT_KEY));
    for index in INDEXES {
        request = request
            .attribute_definitions(string_attribute(index.partition_key))
            .attribute_definitions(string_attribute(index.sort_key))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.partition_key, KeyType::Hash))
                    .key_schema(key(index.sort_key, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| e.to_string())?,
            );
    }
    request
        .send()
        .await
        .map_err(|e| format!("CreateTable {table}: {}", describe(&e)))?;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(std::time::Duration::from_secs(60))
        .await
        .map_err(|e| format!("waiting for {table} to become active: {e}"))?;
    enable_ttl(client, table).await?;
    Ok(TableCreated::Created)
}

/// Why a table cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TableProblem {
    #[error("the table does not exist")]
    Missing,
    #[error("the table's keys or indexes are not the ones this version uses: {0}")]
    OtherSchema(String),
    #[error("DescribeTable: {0}")]
    Unreadable(String),
}

/// Checks that `table` exists with the keys and indexes [`create_table`] gives it.
pub async fn check_table(client: &Client, table: &str) -> Result<(), TableProblem> {
    let described = match client.describe_table().table_name(table).send().await {
        Ok(output) => output
            .table
            .ok_or_else(|| TableProblem::Unreadable("DescribeTable returned no table".into()))?,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Err(TableProblem::Missing);
        }
        Err(err) => return Err(TableProblem::Unreadable(describe(&err))),
    };
    let keys = |schema: &[KeySchemaElement]| -> Vec<(String, String)> {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_string(),
                    k.key_type().as_str().to_string(),
                )
            })
            .collect()
    };
    let pair = |partition: &str, sort: &str| {
        vec![
            (partition.to_string(), "HASH".to_string()),
            (sort.to_string(), "RANGE".to_string()),
        ]
    };
    let mut found = vec![("table".to_string(), keys(described.key_schema()))];
    let mut wanted = vec![("table".to_string(), pair(PARTITION_KEY, SORT_KEY))];
    for index in described.global_secondary_indexes() {
        let name = index.index_name().unwrap_or_default().to_string();
        found.push((name, keys(index.key_schema())));
    }
    for index in INDEXES {
        wanted.push((
            index.name.to_string(),
            pair(index.partition_key, index.sort_key),
        ));
    }
    found.sort();
    wanted.sort();
    if found != wanted {
        return Err(TableProblem::OtherSchema(format!(
            "expected {wanted:?}, found {found:?}"
        )));
    }
    Ok(())
}

/// Switches on the TTL attribute, unless it is on already.
async fn enable_ttl(client: &Client, table: &str) -> Result<(), String> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| format!("DescribeTimeToLive {table}: {}", describe(&e)))?;
    let description = current.time_to_live_description();
    let enabled = description.and_then(|d| d.attribute_name()) == Some(TTL_ATTRIBUTE)
        && matches!(
            description.and_then(|d| d.time_to_live_status()),
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
    if enabled {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("UpdateTimeToLive {table}: {}", describe(&e)))?;
    Ok(())
}
