//! The table's key schema and indexes: the one definition `supportzen table create`
//! uses and `template.yaml` must match (a test checks that they agree).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
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

/// Open conversations by last activity, per kind (sparse: closed ones drop out).
pub const OPEN_BY_ACTIVITY: Index = Index {
    name: "open-by-activity",
    partition_key: "gsi2pk",
    sort_key: "gsi2sk",
};

pub const INDEXES: [Index; 2] = [BY_OWNER, OPEN_BY_ACTIVITY];

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

/// Creates the table (on-demand billing) with its indexes and TTL, and waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<(), String> {
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
    request.send().await.map_err(|e| {
        format!(
            "CreateTable {table}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )
    })?;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(std::time::Duration::from_secs(60))
        .await
        .map_err(|e| format!("waiting for {table}: {e}"))?;
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
        .map_err(|e| {
            format!(
                "UpdateTimeToLive {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}
