//! template.yaml agrees with the code: the table with `schema.rs` (which
//! `supportzen table create` uses), and the routes and binaries with the workspace.

use std::collections::BTreeSet;
use supportzen_shared::dynamo::schema;
use supportzen_shared::endpoint::Endpoint;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn text(yaml: &Yaml) -> &str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {yaml:?}"))
}

/// `[(AttributeName, KeyType)]` of a KeySchema list.
fn key_schema(yaml: &Yaml) -> Vec<(String, String)> {
    yaml.as_vec()
        .unwrap()
        .iter()
        .map(|k| {
            (
                text(&k["AttributeName"]).to_string(),
                text(&k["KeyType"]).to_string(),
            )
        })
        .collect()
}

fn pair(partition: &str, sort: &str) -> Vec<(String, String)> {
    vec![
        (partition.into(), "HASH".into()),
        (sort.into(), "RANGE".into()),
    ]
}

#[test]
fn the_table_matches_the_schema_the_code_creates() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(
        key_schema(&table["KeySchema"]),
        pair(schema::PARTITION_KEY, schema::SORT_KEY)
    );

    let indexes = table["GlobalSecondaryIndexes"].as_vec().unwrap();
    assert_eq!(indexes.len(), schema::INDEXES.len());
    for (yaml, index) in indexes.iter().zip(schema::INDEXES) {
        assert_eq!(text(&yaml["IndexName"]), index.name);
        assert_eq!(
            key_schema(&yaml["KeySchema"]),
            pair(index.partition_key, index.sort_key)
        );
        assert_eq!(text(&yaml["Projection"]["ProjectionType"]), "ALL");
    }

    let defined: BTreeSet<(&str, &str)> = table["AttributeDefinitions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let mut keys = vec![(schema::PARTITION_KEY, "S"), (schema::SORT_KEY, "S")];
    for index in schema::INDEXES {
        keys.extend([(index.partition_key, "S"), (index.sort_key, "S")]);
    }
    assert_eq!(defined, keys.into_iter().collect());

    assert_eq!(
        text(&table["TimeToLiveSpecification"]["AttributeName"]),
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(text(&table["BillingMode"]), "PAY_PER_REQUEST");
}

#[test]
fn every_function_has_its_binary_and_route() {
    let template = template();
    let resources = template["Resources"].as_hash().unwrap();
    let functions: Vec<&Yaml> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    assert_eq!(functions.len(), Endpoint::ALL.len());

    let mut seen = BTreeSet::new();
    for resource in functions {
        assert_eq!(
            text(&resource["Metadata"]["BuildMethod"]),
            "rust-cargolambda"
        );
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let endpoint = Endpoint::parse(binary)
            .unwrap_or_else(|| panic!("template builds unknown binary {binary}"));
        let api = &resource["Properties"]["Events"]["Api"];
        assert_eq!(text(&api["Type"]), "HttpApi");
        assert_eq!(
            text(&api["Properties"]["Method"]),
            endpoint.method(),
            "{binary}"
        );
        assert_eq!(
            text(&api["Properties"]["Path"]),
            endpoint.path(),
            "{binary}"
        );
        assert!(seen.insert(binary));
    }

    // Each binary is a crate under functions/ of the same name.
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(crates, seen.iter().map(|s| s.to_string()).collect());
    for name in &crates {
        let manifest =
            std::fs::read_to_string(root().join("functions").join(name).join("Cargo.toml"))
                .unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "functions/{name} builds {name}"
        );
    }
    let globals = &template["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    assert_eq!(text(&globals["Handler"]), "bootstrap");
}

/// `sam local invoke --env-vars` silently ignores variables the template does not declare.
#[test]
fn env_json_sets_only_variables_the_template_declares() {
    let template = template();
    let declared = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_hash()
        .unwrap();
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("env.json")).unwrap()).unwrap();
    let overrides = env["Parameters"].as_object().unwrap();
    assert!(overrides.contains_key("AWS_ENDPOINT_URL_DYNAMODB"));
    for name in overrides.keys() {
        assert!(
            declared.contains_key(&Yaml::String(name.clone())),
            "env.json sets {name}, which template.yaml does not declare"
        );
    }
}

/// Whether an IAM `StringLike` pattern (only a trailing `*` is used here) matches `value`.
fn like(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// The partition keys each statement of a function's policy allows `action` on.
fn allowed_partitions<'a>(function: &'a Yaml, action: &str) -> Vec<&'a str> {
    let mut patterns = Vec::new();
    for policy in function["Properties"]["Policies"].as_vec().unwrap() {
        for statement in policy["Statement"].as_vec().unwrap() {
            let actions = match &statement["Action"] {
                Yaml::Array(list) => list.iter().map(text).collect(),
                one => vec![text(one)],
            };
            if !actions.contains(&action) {
                continue;
            }
            let condition = &statement["Condition"];
            let keys = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                .as_vec()
                .or_else(|| condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"].as_vec())
                .expect("every statement is limited by dynamodb:LeadingKeys");
            patterns.extend(keys.iter().map(text));
        }
    }
    patterns
}

/// Strings of a YAML list.
fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .unwrap_or_else(|| panic!("expected a list, got {yaml:?}"))
        .iter()
        .map(|item| text(item).to_string())
        .collect()
}

#[test]
fn the_local_server_applies_the_apis_cors_rules() {
    use supportzen::cors;
    let template = template();
    let rules = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    assert_eq!(strings(&rules["AllowMethods"]), cors::allow_methods());
    assert_eq!(strings(&rules["AllowHeaders"]), cors::ALLOW_HEADERS);
    assert_eq!(strings(&rules["ExposeHeaders"]), cors::EXPOSE_HEADERS);
    assert_eq!(
        rules["MaxAge"].as_i64(),
        i64::try_from(cors::MAX_AGE.as_secs()).ok()
    );
}

#[test]
fn each_function_may_read_and_write_its_own_idempotency_receipts_only() {
    use supportzen_shared::domain::Email;
    use supportzen_shared::dynamo::items::receipt_pk;
    use supportzen_shared::idempotency::{IdempotencyKey, ReceiptKey};

    let template = template();
    let receipt_partition = |endpoint| {
        receipt_pk(&ReceiptKey {
            user: Email::parse("ann@example.com").unwrap().user_id().clone(),
            endpoint,
            key: IdempotencyKey::parse("k").unwrap(),
        })
    };
    for function in template["Resources"].as_hash().unwrap().values() {
        if function["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = text(&function["Metadata"]["BuildProperties"]["Binary"]);
        let own = Endpoint::parse(binary).expect("each function is an endpoint");
        // Only writes take idempotency keys; the read routes write nothing at all.
        let writes = own.method() == "POST";
        let user = "USER#ann@example.com";
        let reads_users = allowed_partitions(function, "dynamodb:GetItem");
        assert!(
            reads_users.iter().any(|p| like(p, user)),
            "{binary} reads users"
        );
        if !writes {
            for action in [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ] {
                assert!(
                    allowed_partitions(function, action).is_empty(),
                    "{binary} {action}"
                );
            }
        }
        // BatchGetItem reads the user and the receipt together.
        for (action, patterns) in [
            (
                "BatchGetItem",
                allowed_partitions(function, "dynamodb:BatchGetItem"),
            ),
            ("PutItem", allowed_partitions(function, "dynamodb:PutItem")),
        ] {
            for &endpoint in Endpoint::ALL {
                let allowed = patterns
                    .iter()
                    .any(|p| like(p, &receipt_partition(endpoint)));
                assert_eq!(
                    allowed,
                    writes && endpoint == own,
                    "{binary} {action} on {} receipts",
                    endpoint.name()
                );
            }
        }
    }
}
