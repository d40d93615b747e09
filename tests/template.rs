//! template.yaml agrees with the code: the table with `schema.rs` (which
//! `supportzen table create` uses), the routes, their authorization and the binaries with
//! the workspace, and each function's IAM policy with the keys it touches.

use std::collections::BTreeSet;
use supportzen_shared::dynamo::schema;
use supportzen_shared::endpoint::Endpoint;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Reads CloudFormation's short forms (`!Ref X`, `!GetAtt A.B`, `!Sub s`) as their long
/// forms (`{Ref: X}`, `{Fn::GetAtt: A.B}`, `{Fn::Sub: s}`): yaml-rust2 alone drops the tags
/// and leaves bare strings, which could not tell `!Ref AgentJwtIssuer` from a literal.
#[derive(Default)]
struct LongForms {
    loader: YamlLoader,
    /// For each open sequence or mapping, whether it is wrapped in an intrinsic's mapping.
    wrapped: Vec<bool>,
}

impl LongForms {
    /// The intrinsic function a local tag (`!Ref`, `!Sub`, ...) stands for.
    fn function(tag: Option<&Tag>) -> Option<String> {
        let tag = tag.filter(|tag| tag.handle == "!")?;
        Some(match tag.suffix.as_str() {
            "Ref" | "Condition" => tag.suffix.clone(),
            other => format!("Fn::{other}"),
        })
    }

    fn open(&mut self, function: String, mark: Marker) {
        self.loader.on_event(Event::MappingStart(0, None), mark);
        self.loader
            .on_event(Event::Scalar(function, TScalarStyle::Plain, 0, None), mark);
    }

    /// Opens a sequence or mapping, inside its intrinsic's mapping if `tag` names one.
    fn start(
        &mut self,
        event: fn(usize, Option<Tag>) -> Event,
        anchor: usize,
        tag: Option<Tag>,
        mark: Marker,
    ) {
        let function = Self::function(tag.as_ref());
        self.wrapped.push(function.is_some());
        match function {
            Some(function) => {
                self.open(function, mark);
                self.loader.on_event(event(anchor, None), mark);
            }
            None => self.loader.on_event(event(anchor, tag), mark),
        }
    }
}

impl MarkedEventReceiver for LongForms {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, style, anchor, tag) => match Self::function(tag.as_ref()) {
                Some(function) => {
                    self.open(function, mark);
                    self.loader
                        .on_event(Event::Scalar(value, style, anchor, None), mark);
                    self.loader.on_event(Event::MappingEnd, mark);
                }
                None => self
                    .loader
                    .on_event(Event::Scalar(value, style, anchor, tag), mark),
            },
            Event::SequenceStart(anchor, tag) => {
                self.start(Event::SequenceStart, anchor, tag, mark)
            }
            Event::MappingStart(anchor, tag) => self.start(Event::MappingStart, anchor, tag, mark),
            Event::SequenceEnd | Event::MappingEnd => {
                self.loader.on_event(event, mark);
                if self.wrapped.pop() == Some(true) {
                    self.loader.on_event(Event::MappingEnd, mark);
                }
            }
            other => self.loader.on_event(other, mark),
        }
    }
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let mut long_forms = LongForms::default();
    Parser::new_from_str(&text)
        .load(&mut long_forms, false)
        .unwrap();
    let template = long_forms.loader.documents().first().cloned();
    template.expect("template.yaml holds one well-formed document, without duplicate keys")
}

/// `{function: argument}`, an intrinsic function's long form.
fn intrinsic(function: &str, argument: &str) -> Yaml {
    YamlLoader::load_from_str(&format!("{{{function:?}: {argument:?}}}"))
        .unwrap()
        .remove(0)
}

#[test]
fn short_forms_are_read_as_long_forms() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(
        globals["Architectures"][0],
        intrinsic("Ref", "Architecture")
    );
    assert_eq!(
        globals["Environment"]["Variables"]["TABLE_NAME"],
        intrinsic("Ref", "Table")
    );
    assert_eq!(globals["Handler"], Yaml::String("bootstrap".into()));
    let api = &template["Resources"]["HttpApi"]["Properties"];
    assert_eq!(
        api["AccessLogSettings"]["DestinationArn"],
        intrinsic("Fn::GetAtt", "ApiAccessLogs.Arn")
    );
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
    let mut log_groups = BTreeSet::new();
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
        let description = text(&resource["Properties"]["Description"]);
        assert!(
            description.starts_with(&format!("{} {} - ", endpoint.method(), endpoint.path())),
            "{binary}: {description}"
        );
        // Its own log group, kept for LogRetentionDays.
        let logs = &resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"];
        let group = &template["Resources"][text(logs)];
        assert_eq!(text(&group["Type"]), "AWS::Logs::LogGroup", "{binary}");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            intrinsic("Ref", "LogRetentionDays")
        );
        assert!(
            log_groups.insert(text(logs)),
            "{binary} shares its log group"
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

/// Every statement of a function's policies.
fn statements(function: &Yaml) -> Vec<&Yaml> {
    let mut all = Vec::new();
    for policy in function["Properties"]["Policies"].as_vec().unwrap() {
        all.extend(policy["Statement"].as_vec().unwrap());
    }
    assert!(all.iter().all(|s| text(&s["Effect"]) == "Allow"));
    all
}

/// A YAML value that may be one item or a list of them, as a list.
fn one_or_many(yaml: &Yaml) -> Vec<&Yaml> {
    match yaml {
        Yaml::Array(list) => list.iter().collect(),
        one => vec![one],
    }
}

/// A statement's actions.
fn actions(statement: &Yaml) -> Vec<&str> {
    one_or_many(&statement["Action"])
        .into_iter()
        .map(text)
        .collect()
}

/// The table's ARN, as the policies name it.
fn table_arn() -> Yaml {
    intrinsic("Fn::GetAtt", "Table.Arn")
}

/// The name of the table's index a resource is the ARN of, if it is one.
fn index_name(resource: &Yaml) -> Option<&str> {
    resource["Fn::Sub"]
        .as_str()?
        .strip_prefix("${Table.Arn}/index/")
}

/// The partition keys a statement on the table is limited to.
fn leading_keys(statement: &Yaml) -> Vec<&str> {
    let condition = &statement["Condition"];
    let keys = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        .as_vec()
        .or_else(|| condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"].as_vec())
        .expect("every statement on the table is limited by dynamodb:LeadingKeys");
    keys.iter().map(text).collect()
}

/// The partition keys each statement of a function's policy allows `action` on, in
/// the table (not its indexes).
fn allowed_partitions<'a>(function: &'a Yaml, action: &str) -> Vec<&'a str> {
    let mut patterns = Vec::new();
    for statement in statements(function) {
        if !actions(statement).contains(&action) {
            continue;
        }
        let resources = one_or_many(&statement["Resource"]);
        if resources.iter().all(|r| index_name(r).is_some()) {
            continue;
        }
        assert_eq!(resources, [&table_arn()], "{statement:?}");
        patterns.extend(leading_keys(statement));
    }
    patterns
}

/// Each function's endpoint, with the function.
fn functions(template: &Yaml) -> Vec<(Endpoint, &Yaml)> {
    template["Resources"]
        .as_hash()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|function| {
            let binary = text(&function["Metadata"]["BuildProperties"]["Binary"]);
            let endpoint = Endpoint::parse(binary).expect("each function is an endpoint");
            (endpoint, function)
        })
        .collect()
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
    for (own, function) in functions(&template) {
        let binary = own.name();
        // Only the customers' writes take idempotency keys (agents' writes are
        // conditional on what the agent saw instead).
        let writes = own.method() == "POST" && own.scope().is_none();
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

/// DynamoDB's read actions; a GET route's function may perform no other.
const READS: [&str; 3] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
];

#[test]
fn read_functions_write_nothing() {
    let template = template();
    let mut checked = 0;
    for (endpoint, function) in functions(&template) {
        if endpoint.method() != "GET" {
            continue;
        }
        for statement in statements(function) {
            for action in actions(statement) {
                assert!(READS.contains(&action), "{} {action}", endpoint.name());
            }
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        Endpoint::ALL.iter().filter(|e| e.method() == "GET").count()
    );
}

#[test]
fn customer_functions_read_their_callers_user_item() {
    let template = template();
    let user = "USER#ann@example.com";
    for (endpoint, function) in functions(&template) {
        if endpoint.scope().is_none() {
            let reads = allowed_partitions(function, "dynamodb:GetItem");
            assert!(
                reads.iter().any(|p| like(p, user)),
                "{} reads users",
                endpoint.name()
            );
        }
    }
}

/// A follow-up's create transaction checks that the conversation it follows is the
/// caller's; an agent's note checks that its conversation exists.
#[test]
fn the_transactions_condition_checks_are_allowed() {
    use supportzen_shared::domain::ConversationId;
    use supportzen_shared::dynamo::items::conversation_pk;

    let template = template();
    let conversation = conversation_pk(&ConversationId::from_stored("ticket", "TKT-001").unwrap());
    let mut checked = 0;
    for (endpoint, function) in functions(&template) {
        if matches!(
            endpoint,
            Endpoint::LiveCreate | Endpoint::TicketCreate | Endpoint::AgentReply
        ) {
            let allowed = allowed_partitions(function, "dynamodb:ConditionCheckItem");
            assert!(
                allowed.iter().any(|p| like(p, &conversation)),
                "{}",
                endpoint.name()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3);
}

/// Agents read and write conversations, whoever owns them, but no customer's user item
/// (with its signing secret) and no idempotency receipt; in the indexes, only the inbox.
#[test]
fn agent_functions_touch_conversations_and_the_inbox_only() {
    use supportzen_shared::domain::Email;
    use supportzen_shared::dynamo::items::{receipt_pk, user_pk};
    use supportzen_shared::idempotency::{IdempotencyKey, ReceiptKey};

    let template = template();
    let user = Email::parse("ann@example.com").unwrap().user_id().clone();
    let mut forbidden = vec![user_pk(&user), "IDEMPOTENCY#".to_string()];
    for &endpoint in Endpoint::ALL {
        forbidden.push(receipt_pk(&ReceiptKey {
            user: user.clone(),
            endpoint,
            key: IdempotencyKey::parse("k").unwrap(),
        }));
    }
    let inbox_indexes = [schema::INBOX.name, schema::BY_ASSIGNEE.name];
    let mut agents = 0;
    for (endpoint, function) in functions(&template) {
        if endpoint.scope().is_none() {
            continue;
        }
        agents += 1;
        let name = endpoint.name();
        for statement in statements(function) {
            assert!(
                statement["NotAction"].is_badvalue() && statement["NotResource"].is_badvalue(),
                "{name}"
            );
            for resource in one_or_many(&statement["Resource"]) {
                if let Some(index) = index_name(resource) {
                    assert!(inbox_indexes.contains(&index), "{name} on index {index}");
                    assert_eq!(actions(statement), ["dynamodb:Query"], "{name}");
                    continue;
                }
                assert_eq!(resource, &table_arn(), "{name}");
                for pattern in leading_keys(statement) {
                    for key in &forbidden {
                        assert!(!like(pattern, key), "{name} may touch {key} ({pattern})");
                    }
                }
            }
        }
    }
    assert_eq!(agents, 6);
}

#[test]
fn agent_routes_require_their_scope_and_customer_routes_no_token() {
    let template = template();
    for (endpoint, function) in functions(&template) {
        let name = endpoint.name();
        let auth = &function["Properties"]["Events"]["Api"]["Properties"]["Auth"];
        match endpoint.scope() {
            Some(scope) => {
                assert_eq!(text(&auth["Authorizer"]), "AgentJwt", "{name}");
                assert_eq!(
                    strings(&auth["AuthorizationScopes"]),
                    [scope.as_str()],
                    "{name}"
                );
            }
            None => assert!(auth.is_badvalue(), "{name} has {auth:?}"),
        }
    }
}

#[test]
fn the_api_verifies_agents_tokens_from_the_parameters() {
    let template = template();
    let parameters = &template["Parameters"];
    assert_eq!(text(&parameters["AgentJwtIssuer"]["Type"]), "String");
    assert_eq!(
        text(&parameters["AgentJwtAudience"]["Type"]),
        "CommaDelimitedList"
    );

    let auth = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    let authorizers = auth["Authorizers"].as_hash().unwrap();
    assert_eq!(authorizers.len(), 1);
    let jwt = &auth["Authorizers"]["AgentJwt"];
    assert_eq!(
        text(&jwt["IdentitySource"]),
        "$request.header.Authorization"
    );
    assert_eq!(
        jwt["JwtConfiguration"]["issuer"],
        intrinsic("Ref", "AgentJwtIssuer")
    );
    assert_eq!(
        jwt["JwtConfiguration"]["audience"],
        intrinsic("Ref", "AgentJwtAudience")
    );
    // No default: it would apply to the customer routes too.
    assert!(auth["DefaultAuthorizer"].is_badvalue());
}
