//! template.yaml agrees with the code: the table with `schema.rs` (which
//! `supportzen table create` uses), the routes, their authorization and the binaries with
//! the workspace, and each function's IAM policy with the keys it touches.

use std::collections::{BTreeSet, HashMap};
use supportzen_shared::dynamo::schema;
use supportzen_shared::endpoint::Endpoint;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

/// The functions no HTTP route calls: the WebSocket API's authorizer and `$connect`/
/// `$disconnect` integration, the table stream's consumer and the webhook queue's.
/// `ws-typing`, the WebSocket API's typing route; and the due-work sweep, which the
/// scheduler invokes.
const BACKGROUND: [&str; 6] = [
    "ws-authorize",
    "ws-connection",
    "ws-typing",
    "events-stream",
    "webhook-deliver",
    "due-work",
];

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

pub(crate) fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let mut long_forms = LongForms::default();
    Parser::new_from_str(&text)
        .load(&mut long_forms, false)
        .unwrap();
    let template = long_forms.loader.documents().first().cloned();
    template.expect("template.yaml holds one well-formed document, without duplicate keys")
}

/// `{function: argument}`, an intrinsic function's long form.
pub(crate) fn intrinsic(function: &str, argument: &str) -> Yaml {
    YamlLoader::load_from_str(&format!("{{{function:?}: {argument:?}}}"))
        .unwrap()
        .remove(0)
}

/// A YAML value written out, intrinsics in their long forms.
fn yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).unwrap().remove(0)
}

#[test]
fn short_forms_are_read_as_long_forms() {
    let template = template();
    assert_eq!(
        template["Conditions"]["CreateAgentUserPool"],
        yaml(r#"{"Fn::Equals": [{"Ref": "AgentJwtIssuer"}, ""]}"#)
    );
    let globals = &template["Globals"]["Function"];
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

pub(crate) fn text(yaml: &Yaml) -> &str {
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
    let functions: Vec<(&Yaml, &Yaml)> = resources
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    assert_eq!(functions.len(), Endpoint::ALL.len() + BACKGROUND.len());

    let mut seen = BTreeSet::new();
    let mut log_groups = BTreeSet::new();
    for (logical_id, resource) in functions {
        // The Makefile finds a function's crate from its logical id alone.
        assert_eq!(text(&resource["Metadata"]["BuildMethod"]), "makefile");
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        assert_eq!(
            text(logical_id),
            format!("{}Function", camel_case(binary)),
            "the Makefile would build another crate for {binary}"
        );
        assert!(
            root().join("functions").join(binary).is_dir(),
            "no crate functions/{binary}"
        );
        let logs = &resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"];
        assert!(
            log_groups.insert(text(logs)),
            "{binary} shares its log group"
        );
        let Some(endpoint) = Endpoint::parse(binary) else {
            // Invoked by API Gateway's WebSocket API, the stream or the queue, each
            // through a resource of its own (checked below), never by an HTTP route.
            assert!(
                BACKGROUND.contains(&binary),
                "template builds unknown binary {binary}"
            );
            assert!(resource["Properties"]["Events"].is_badvalue(), "{binary}");
            assert!(seen.insert(binary));
            continue;
        };
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
        // A second method on the same path (the unsubscribe link's page) is the
        // `Page` event; no function has any other event.
        let page = &resource["Properties"]["Events"]["Page"];
        match endpoint.page_method() {
            Some(method) => {
                assert_eq!(text(&page["Type"]), "HttpApi", "{binary}");
                assert_eq!(text(&page["Properties"]["Method"]), method, "{binary}");
                assert_eq!(
                    text(&page["Properties"]["Path"]),
                    endpoint.path(),
                    "{binary}"
                );
                assert!(page["Properties"]["Auth"].is_badvalue(), "{binary}");
            }
            None => assert!(page.is_badvalue(), "{binary}"),
        }
        assert_eq!(
            resource["Properties"]["Events"].as_hash().unwrap().len(),
            endpoint.methods().len(),
            "{binary}"
        );
        let description = text(&resource["Properties"]["Description"]);
        assert!(
            description.starts_with(&format!("{} {} - ", endpoint.method(), endpoint.path())),
            "{binary}: {description}"
        );
        assert!(seen.insert(binary));
    }
    // Each its own log group, kept for LogRetentionDays.
    for logs in &log_groups {
        let group = &template["Resources"][*logs];
        assert_eq!(text(&group["Type"]), "AWS::Logs::LogGroup", "{logs}");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            intrinsic("Ref", "LogRetentionDays")
        );
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
        // The shared crate's `lambda` feature: log lines below INFO left out of the
        // bootstrap (0.4 MiB of each; docs/performance.md).
        assert!(
            manifest.contains(r#"supportzen-shared = { workspace = true, features = ["lambda"] }"#),
            "functions/{name} builds with the shared crate's `lambda` feature"
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

/// Each HTTP route's function, with its endpoint.
fn functions(template: &Yaml) -> Vec<(Endpoint, &Yaml)> {
    let routes: Vec<_> = template["Resources"]
        .as_hash()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter_map(|function| {
            let binary = text(&function["Metadata"]["BuildProperties"]["Binary"]);
            Endpoint::parse(binary).map(|endpoint| (endpoint, function))
        })
        .collect();
    assert_eq!(routes.len(), Endpoint::ALL.len());
    routes
}

/// The function that builds `binary`.
fn function<'a>(template: &'a Yaml, binary: &str) -> &'a Yaml {
    template["Resources"]
        .as_hash()
        .unwrap()
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function builds {binary}"))
}

/// `live-create` as `LiveCreate`: how the Makefile's `build-<LogicalId>` names a crate.
fn camel_case(binary: &str) -> String {
    binary
        .split('-')
        .map(|word| {
            let mut letters = word.chars();
            letters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + letters.as_str())
                .unwrap_or_default()
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
    use supportzen_shared::idempotency::{IdempotencyKey, ReceiptKey, Requester};

    let template = template();
    let receipt_partition = |endpoint| {
        receipt_pk(&ReceiptKey {
            requester: Requester::customer(Email::parse("ann@example.com").unwrap().user_id()),
            endpoint,
            key: IdempotencyKey::parse("k").unwrap(),
        })
    };
    for (own, function) in functions(&template) {
        let binary = own.name();
        // The customers' writes take idempotency keys, and the agents' reply (an agent's
        // status change and assignment set a state, so a repeat is harmless; a connect
        // ticket is a new one on every call).
        // (Nor does declaring an upload: each call is a new upload, and a repeated one
        // only leaves an unattached record that expires; nor a read mark, which a repeat
        // leaves where it is; nor unsubscribing, which repeats harmlessly; nor a rating:
        // rating the same way again changes nothing.)
        let customer_write = own.method() == "POST"
            && own.scope().is_none()
            && !matches!(
                own,
                Endpoint::RealtimeTicket
                    | Endpoint::AttachmentUpload
                    | Endpoint::ConversationRead
                    | Endpoint::Unsubscribe
                    | Endpoint::ConversationRating
            );
        let agent_reply = own == Endpoint::AgentReply;
        // A customer's write reads the user and the receipt together (BatchGetItem); the
        // reply reads its receipt alone, and only when it has a key (GetItem).
        for (action, granted) in [
            ("BatchGetItem", customer_write),
            ("GetItem", agent_reply),
            ("PutItem", customer_write || agent_reply),
        ] {
            // A customer's write may hold GetItem with its receipts' partition too (the
            // user is read alone when there is no key): what is checked is that nobody
            // else's receipts are reachable.
            if action == "GetItem" && customer_write {
                continue;
            }
            let patterns = allowed_partitions(function, &format!("dynamodb:{action}"));
            for &endpoint in Endpoint::ALL {
                let allowed = patterns
                    .iter()
                    .any(|p| like(p, &receipt_partition(endpoint)));
                assert_eq!(
                    allowed,
                    granted && endpoint == own,
                    "{binary} {action} on {} receipts",
                    endpoint.name()
                );
            }
        }
    }
}

/// DynamoDB's and S3's read actions; a GET route's function may perform no other.
const READS: [&str; 4] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "s3:GetObject",
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
        // The one-click unsubscribe has no caller to read: its token names the user.
        if endpoint.scope().is_none() && endpoint != Endpoint::Unsubscribe {
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

/// Agents read and write conversations, whoever owns them (and put connect tickets),
/// but no customer's user item (with its signing secret) and no idempotency receipt; in
/// the indexes, only the inbox. Finding a customer is the exception, checked by
/// `finding_a_customer_reads_profiles_and_the_by_owner_index_only`.
#[test]
fn agent_functions_touch_conversations_and_the_inbox_only() {
    use supportzen_shared::domain::Email;
    use supportzen_shared::dynamo::items::{receipt_pk, user_pk};
    use supportzen_shared::idempotency::{IdempotencyKey, ReceiptKey, Requester};

    let template = template();
    let user = Email::parse("ann@example.com").unwrap().user_id().clone();
    let mut forbidden = vec![user_pk(&user), "IDEMPOTENCY#".to_string()];
    for &endpoint in Endpoint::ALL {
        forbidden.push(receipt_pk(&ReceiptKey {
            requester: Requester::customer(&user),
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
        if endpoint == Endpoint::AgentCustomer {
            continue;
        }
        let name = endpoint.name();
        for statement in statements(function) {
            assert!(
                statement["NotAction"].is_badvalue() && statement["NotResource"].is_badvalue(),
                "{name}"
            );
            if actions(statement).iter().all(|a| a.starts_with("s3:")) {
                // The bucket's grants are checked by each_function_reaches_only_its_files.
                continue;
            }
            for resource in one_or_many(&statement["Resource"]) {
                if let Some(index) = index_name(resource) {
                    assert!(inbox_indexes.contains(&index), "{name} on index {index}");
                    assert_eq!(actions(statement), ["dynamodb:Query"], "{name}");
                    continue;
                }
                assert_eq!(resource, &table_arn(), "{name}");
                for pattern in leading_keys(statement) {
                    // The reply's own receipts (each_function_may_read_and_write_its_own_
                    // idempotency_receipts_only holds them to exactly that).
                    if endpoint == Endpoint::AgentReply && pattern == "IDEMPOTENCY#agent-reply#*" {
                        continue;
                    }
                    for key in &forbidden {
                        assert!(!like(pattern, key), "{name} may touch {key} ({pattern})");
                    }
                }
            }
        }
    }
    assert_eq!(agents, 10);
}

/// Finding a customer reads the by-owner index (conversations only) and, in the user
/// item, the profile attributes the store asks for by name and nothing else: never the
/// signing secret, the pin or a rotation's previous secret.
#[test]
fn finding_a_customer_reads_profiles_and_the_by_owner_index_only() {
    use supportzen_shared::dynamo::PROFILE_ATTRIBUTES;

    let template = template();
    let function = function(&template, Endpoint::AgentCustomer.name());
    let mut attributes = vec!["pk", "sk"];
    attributes.extend(PROFILE_ATTRIBUTES);
    for secret in ["secret", "previous_secret", "previous_until", "pin"] {
        assert!(!attributes.contains(&secret), "{secret}");
    }
    let expected: BTreeSet<String> = [
        format!("dynamodb:Query on ${{Table.Arn}}/index/{}", schema::BY_OWNER.name),
        format!(
            "dynamodb:Query on Table.Arn [\"USER#*\"] attributes {attributes:?} select SPECIFIC_ATTRIBUTES"
        ),
    ]
    .into();
    assert_eq!(grants(function), expected);
}

/// The S3 actions each function may perform, by the key pattern it may perform them on
/// (the part after the bucket's ARN).
fn bucket_grants(function: &Yaml) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    for statement in statements(function) {
        for action in actions(statement) {
            if !action.starts_with("s3:") {
                continue;
            }
            for resource in one_or_many(&statement["Resource"]) {
                let pattern = resource["Fn::Sub"]
                    .as_str()
                    .and_then(|arn| arn.strip_prefix("${AttachmentsBucket.Arn}/"))
                    .unwrap_or_else(|| panic!("{action} on {resource:?}, not the bucket's keys"));
                grants.insert((action.to_string(), pattern.to_string()));
            }
        }
    }
    grants
}

/// Least privilege in the bucket: the upload routes may only put (and tag, for the
/// form's tagging field) their own side's uploads, as the presigned POST needs; the
/// writes that attach read their side's uploads and copy them to (and re-tag) their
/// side's kept files, and only the agent's reply, whose answer links its files, reads
/// them; the message pages read every kept file to sign links; nobody else touches the
/// bucket, and nobody may delete or list.
#[test]
fn each_function_reaches_only_its_files() {
    use supportzen_shared::domain::{AgentId, AttachmentId, Email, Uploader};

    let template = template();
    let customer = Uploader::customer(Email::parse("ann@example.com").unwrap().user_id());
    let agent = Uploader::agent(&AgentId::parse("agent-7").unwrap());
    let id = AttachmentId::generate();
    let grant = |actions: &[&str], pattern: &str| -> BTreeSet<(String, String)> {
        actions
            .iter()
            .map(|a| (a.to_string(), pattern.to_string()))
            .collect()
    };
    // Attaching reads the side's uploads and copies them to (and re-tags) its kept
    // files: CopyObject needs GetObject on the source only.
    let attach = |side: &str| -> BTreeSet<(String, String)> {
        let mut grants = grant(&["s3:GetObject"], &format!("uploads/{side}/*"));
        grants.extend(grant(
            &["s3:PutObject", "s3:PutObjectTagging"],
            &format!("files/{side}/*"),
        ));
        grants
    };
    // An agent's reply is answered with its own files' links, which S3 honours only for
    // a signer that may read them; the customers' writes answer with no links.
    let attach_and_link = |side: &str| -> BTreeSet<(String, String)> {
        let mut grants = attach(side);
        grants.extend(grant(&["s3:GetObject"], &format!("files/{side}/*")));
        grants
    };
    for (endpoint, function) in functions(&template) {
        let expected = match endpoint {
            Endpoint::AttachmentUpload => grant(
                &["s3:PutObject", "s3:PutObjectTagging"],
                "uploads/customer/*",
            ),
            Endpoint::AgentAttachmentUpload => {
                grant(&["s3:PutObject", "s3:PutObjectTagging"], "uploads/agent/*")
            }
            Endpoint::LiveCreate
            | Endpoint::LiveChat
            | Endpoint::TicketCreate
            | Endpoint::TicketAppend => attach("customer"),
            Endpoint::AgentReply => attach_and_link("agent"),
            Endpoint::ConversationMessages | Endpoint::AgentMessages => {
                grant(&["s3:GetObject"], "files/*")
            }
            _ => BTreeSet::new(),
        };
        let name = endpoint.name();
        let grants = bucket_grants(function);
        assert_eq!(grants, expected, "{name}");
        // The patterns are the keys the code makes: uploads' keys and kept copies'.
        let side = match endpoint {
            Endpoint::AgentAttachmentUpload | Endpoint::AgentReply => &agent,
            _ => &customer,
        };
        let (upload, kept) = (side.key(&id), side.kept_key(&id));
        for (action, pattern) in &grants {
            let key = if pattern.starts_with("files/") {
                &kept
            } else {
                &upload
            };
            assert!(
                like(pattern, key),
                "{name}: {action} on {pattern}, not {key}"
            );
            // Writes reach only this side's keys, never the other's.
            let other = if std::ptr::eq(side, &agent) {
                &customer
            } else {
                &agent
            };
            if action != "s3:GetObject" {
                assert!(!like(pattern, &other.key(&id)), "{name}: {pattern}");
                assert!(!like(pattern, &other.kept_key(&id)), "{name}: {pattern}");
            }
        }
        // No form can write where a message's files are kept.
        if matches!(
            endpoint,
            Endpoint::AttachmentUpload | Endpoint::AgentAttachmentUpload
        ) {
            for (_, pattern) in &grants {
                assert!(!like(pattern, &kept), "{name}: {pattern}");
            }
        }
        let bucket = &function["Properties"]["Environment"]["Variables"]["ATTACHMENTS_BUCKET"];
        if expected.is_empty() {
            assert!(bucket.is_badvalue(), "{name} needs no bucket");
        } else {
            assert_eq!(bucket, &intrinsic("Ref", "AttachmentsBucket"), "{name}");
            // The uploads it reads or records.
            let uploads = "UPLOAD#att-x";
            let action = match endpoint {
                Endpoint::AttachmentUpload | Endpoint::AgentAttachmentUpload => "dynamodb:PutItem",
                Endpoint::ConversationMessages | Endpoint::AgentMessages => continue,
                _ => "dynamodb:UpdateItem",
            };
            assert!(
                allowed_partitions(function, action)
                    .iter()
                    .any(|p| like(p, uploads)),
                "{name} {action} on uploads"
            );
        }
    }
    for background in BACKGROUND {
        assert!(bucket_grants(function(&template, background)).is_empty());
    }
}

/// One bucket, never public, encrypted, reachable over TLS only, answering the app's
/// origins, and deleting uploads nobody attached after a day (the tag uploads carry
/// until a message attaches them).
#[test]
fn the_attachments_bucket_is_private_and_forgets_unattached_uploads() {
    let template = template();
    let resources = template["Resources"].as_hash().unwrap();
    // The one bucket of every stack (the console's, web_host.rs, is HostWeb's only).
    let buckets: Vec<&Yaml> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::S3::Bucket") && r["Condition"].is_badvalue())
        .collect();
    assert_eq!(buckets.len(), 1);
    let bucket = &template["Resources"]["AttachmentsBucket"];
    assert_eq!(text(&bucket["DeletionPolicy"]), "Retain");
    let properties = &bucket["Properties"];
    let block = &properties["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting].as_bool(), Some(true), "{setting}");
    }
    assert_eq!(
        text(&properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"]),
        "BucketOwnerEnforced"
    );
    let encryption = &properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        text(&encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"]),
        "AES256"
    );
    let cors = &properties["CorsConfiguration"]["CorsRules"][0];
    assert_eq!(
        cors["AllowedOrigins"],
        intrinsic("Ref", "CorsAllowedOrigins")
    );
    assert_eq!(strings(&cors["AllowedMethods"]), ["GET", "POST"]);

    let rules = properties["LifecycleConfiguration"]["Rules"]
        .as_vec()
        .unwrap();
    // Uploads nobody attached (and, attached or not, every upload once its copy is
    // kept), and kept copies whose message was not written (re-tagged unattached).
    let (name, value) = supportzen_shared::s3::UNATTACHED_TAG;
    for prefix in [
        supportzen_shared::domain::UPLOADS_PREFIX,
        supportzen_shared::domain::FILES_PREFIX,
    ] {
        let unattached = rules
            .iter()
            .find(|rule| rule["TagFilters"].as_vec().is_some() && text(&rule["Prefix"]) == prefix)
            .unwrap_or_else(|| panic!("a rule for unattached files under {prefix}"));
        assert_eq!(text(&unattached["Status"]), "Enabled");
        assert_eq!(unattached["ExpirationInDays"].as_i64(), Some(1));
        let tag = &unattached["TagFilters"][0];
        assert_eq!((text(&tag["Key"]), text(&tag["Value"])), (name, value));
    }
    // ...which is the tag the upload forms set.
    let tagging = supportzen_shared::s3::UNATTACHED_TAGGING;
    assert!(tagging.contains(&format!("<Key>{name}</Key><Value>{value}</Value>")));

    let policy = &template["Resources"]["AttachmentsBucketPolicy"]["Properties"];
    assert_eq!(policy["Bucket"], intrinsic("Ref", "AttachmentsBucket"));
    let statements = policy["PolicyDocument"]["Statement"].as_vec().unwrap();
    assert_eq!(statements.len(), 1);
    let tls = &statements[0];
    assert_eq!(text(&tls["Effect"]), "Deny");
    assert_eq!(text(&tls["Action"]), "s3:*");
    assert_eq!(
        tls["Condition"]["Bool"]["aws:SecureTransport"].as_bool(),
        Some(false)
    );
    assert_eq!(
        one_or_many(&tls["Resource"]).len(),
        2,
        "the bucket and its objects"
    );
}

#[test]
fn agent_routes_require_their_scope_and_customer_routes_no_token() {
    let template = template();
    for (endpoint, function) in functions(&template) {
        let name = endpoint.name();
        let auth = &function["Properties"]["Events"]["Api"]["Properties"]["Auth"];
        match endpoint.scope() {
            // Either spelling, as the handler accepts them: agent.read from any issuer,
            // supportzen/agent.read from the stack's Cognito user pool.
            Some(scope) => {
                assert_eq!(text(&auth["Authorizer"]), "AgentJwt", "{name}");
                assert_eq!(
                    strings(&auth["AuthorizationScopes"]),
                    scope.spellings(),
                    "{name}"
                );
            }
            None => assert!(auth.is_badvalue(), "{name} has {auth:?}"),
        }
    }
}

/// The issuer of the created user pool's tokens.
const POOL_ISSUER: &str = "https://cognito-idp.${AWS::Region}.amazonaws.com/${AgentUserPool}";

#[test]
fn the_api_verifies_agents_tokens_from_the_created_pool_or_the_parameters() {
    let template = template();
    let parameters = &template["Parameters"];
    // Both left empty (the defaults): the stack creates the pool; both given: they are
    // the issuer and audience. One without the other is refused before anything changes.
    for name in ["AgentJwtIssuer", "AgentJwtAudience"] {
        assert_eq!(text(&parameters[name]["Type"]), "String", "{name}");
        assert_eq!(text(&parameters[name]["Default"]), "", "{name}");
    }
    let rules = &template["Rules"];
    assert_eq!(rules.as_hash().unwrap().len(), 2);
    let given = yaml(r#"{"Fn::Not": [{"Fn::Equals": [{"Ref": "AgentJwtIssuer"}, ""]}]}"#);
    let empty = template["Conditions"]["CreateAgentUserPool"].clone();
    assert_eq!(
        empty,
        yaml(r#"{"Fn::Equals": [{"Ref": "AgentJwtIssuer"}, ""]}"#)
    );
    let issuer_needs_audience = &rules["AgentIssuerNeedsAudience"];
    assert_eq!(issuer_needs_audience["RuleCondition"], given);
    assert_eq!(
        issuer_needs_audience["Assertions"][0]["Assert"],
        yaml(r#"{"Fn::Not": [{"Fn::Equals": [{"Ref": "AgentJwtAudience"}, ""]}]}"#)
    );
    let audience_needs_issuer = &rules["AgentAudienceNeedsIssuer"];
    assert_eq!(audience_needs_issuer["RuleCondition"], empty);
    assert_eq!(
        audience_needs_issuer["Assertions"][0]["Assert"],
        yaml(r#"{"Fn::Equals": [{"Ref": "AgentJwtAudience"}, ""]}"#)
    );

    let auth = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    let authorizers = auth["Authorizers"].as_hash().unwrap();
    assert_eq!(authorizers.len(), 1);
    let jwt = &auth["Authorizers"]["AgentJwt"];
    assert_eq!(
        text(&jwt["IdentitySource"]),
        "$request.header.Authorization"
    );
    // The pool's access tokens carry the app client's id as client_id and no aud, which
    // API Gateway then checks against the audience.
    assert_eq!(
        jwt["JwtConfiguration"]["issuer"],
        yaml(&format!(
            r#"{{"Fn::If": ["CreateAgentUserPool", {{"Fn::Sub": "{POOL_ISSUER}"}}, {{"Ref": "AgentJwtIssuer"}}]}}"#
        ))
    );
    assert_eq!(
        jwt["JwtConfiguration"]["audience"],
        yaml(
            r#"{"Fn::If": ["CreateAgentUserPool", [{"Ref": "AgentConsoleClient"}], {"Fn::Split": [",", {"Ref": "AgentJwtAudience"}]}]}"#
        )
    );
    // No default: it would apply to the customer routes too.
    assert!(auth["DefaultAuthorizer"].is_badvalue());
}

/// With no issuer given, the stack creates the agents' identity provider: a user pool
/// whose accounts only an administrator creates, the resource server that defines the
/// two scopes as the routes and the handlers spell them, and the agent console's public
/// client (authorization code flow, no secret), with a hosted sign-in domain.
#[test]
fn the_stack_creates_the_agents_identity_provider_unless_given_one() {
    use supportzen_shared::domain::Scope;

    let template = template();
    let resources = &template["Resources"];
    let cognito: BTreeSet<&str> = template["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, resource)| text(&resource["Type"]).starts_with("AWS::Cognito::"))
        .map(|(id, _)| text(id))
        .collect();
    let created = [
        "AgentUserPool",
        "AgentResourceServer",
        "AgentConsoleClient",
        "AgentUserPoolDomain",
    ];
    assert_eq!(cognito, created.into());
    for id in created {
        assert_eq!(
            text(&resources[id]["Condition"]),
            "CreateAgentUserPool",
            "{id}"
        );
    }
    let pool = intrinsic("Ref", "AgentUserPool");

    let user_pool = &resources["AgentUserPool"];
    assert_eq!(text(&user_pool["Type"]), "AWS::Cognito::UserPool");
    // Agents' ids are in assignees and messages: the pool outlives the stack, as the table.
    assert_eq!(text(&user_pool["DeletionPolicy"]), "Retain");
    assert_eq!(text(&user_pool["UpdateReplacePolicy"]), "Retain");
    let properties = &user_pool["Properties"];
    assert_eq!(
        properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"].as_bool(),
        Some(true),
        "no self sign-up"
    );
    assert_eq!(strings(&properties["UsernameAttributes"]), ["email"]);
    let password = &properties["Policies"]["PasswordPolicy"];
    assert!(password["MinimumLength"].as_i64().unwrap() >= 12);
    for rule in [
        "RequireLowercase",
        "RequireUppercase",
        "RequireNumbers",
        "RequireSymbols",
    ] {
        assert_eq!(password[rule].as_bool(), Some(true), "{rule}");
    }

    let server = &resources["AgentResourceServer"];
    assert_eq!(
        text(&server["Type"]),
        "AWS::Cognito::UserPoolResourceServer"
    );
    let server = &server["Properties"];
    assert_eq!(server["UserPoolId"], pool);
    assert_eq!(text(&server["Identifier"]), Scope::RESOURCE_SERVER);
    let scope_names: Vec<&str> = server["Scopes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|scope| text(&scope["ScopeName"]))
        .collect();
    assert_eq!(scope_names, Scope::ALL.map(Scope::as_str));

    let client = &resources["AgentConsoleClient"];
    assert_eq!(text(&client["Type"]), "AWS::Cognito::UserPoolClient");
    // Its scopes name the resource server's, which must exist first.
    assert_eq!(text(&client["DependsOn"]), "AgentResourceServer");
    let client = &client["Properties"];
    assert_eq!(client["UserPoolId"], pool);
    // A browser app keeps no secret: a public client, whose codes PKCE protects.
    assert_eq!(client["GenerateSecret"].as_bool(), Some(false));
    assert_eq!(
        client["AllowedOAuthFlowsUserPoolClient"].as_bool(),
        Some(true)
    );
    assert_eq!(strings(&client["AllowedOAuthFlows"]), ["code"]);
    let mut scopes = vec!["openid", "email", "profile"];
    scopes.extend(Scope::ALL.map(Scope::prefixed));
    assert_eq!(strings(&client["AllowedOAuthScopes"]), scopes);
    assert_eq!(strings(&client["SupportedIdentityProviders"]), ["COGNITO"]);
    let console = intrinsic("Ref", "AgentConsoleUrls");
    assert_eq!(client["CallbackURLs"], console);
    assert_eq!(client["LogoutURLs"], console);
    assert_eq!(
        text(&template["Parameters"]["AgentConsoleUrls"]["Default"]),
        "http://localhost:3000/console/"
    );
    // No flow that sends the password itself to Cognito's API.
    for flow in strings(&client["ExplicitAuthFlows"]) {
        assert!(!flow.contains("PASSWORD"), "{flow}");
    }

    let domain = &resources["AgentUserPoolDomain"];
    assert_eq!(text(&domain["Type"]), "AWS::Cognito::UserPoolDomain");
    assert_eq!(domain["Properties"]["UserPoolId"], pool);

    // What an administrator needs to add agents and a console to sign them in, only when
    // the pool exists.
    let outputs = &template["Outputs"];
    for output in [
        "AgentUserPoolId",
        "AgentConsoleClientId",
        "AgentSignInUrl",
        "AgentTokenIssuer",
    ] {
        assert_eq!(
            text(&outputs[output]["Condition"]),
            "CreateAgentUserPool",
            "{output}"
        );
    }
    assert_eq!(outputs["AgentUserPoolId"]["Value"], pool);
    assert_eq!(
        outputs["AgentConsoleClientId"]["Value"],
        intrinsic("Ref", "AgentConsoleClient")
    );
    assert_eq!(
        outputs["AgentTokenIssuer"]["Value"],
        intrinsic("Fn::Sub", POOL_ISSUER)
    );
}

/// `sam build` compiles for the architecture the template names, and `sam deploy`
/// declares the one in the template it built: a constant cannot differ between the two,
/// where a parameter asked for again by `sam deploy --guided` could.
#[test]
fn build_and_deploy_use_the_templates_one_architecture() {
    let template = template();
    assert!(template["Parameters"]["Architecture"].is_badvalue());
    assert_eq!(
        strings(&template["Globals"]["Function"]["Architectures"]),
        ["x86_64"]
    );
    for (id, resource) in template["Resources"].as_hash().unwrap() {
        assert!(
            resource["Properties"]["Architectures"].is_badvalue(),
            "{id:?} sets its own architecture"
        );
    }
    let samconfig = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    assert!(!samconfig.contains("Architecture="), "{samconfig}");
    let script = std::fs::read_to_string(root().join("scripts/sam-build")).unwrap();
    assert!(
        !script.contains("--parameter-overrides"),
        "scripts/sam-build"
    );
}

/// A resource as a policy names it: what a `!GetAtt` or `!Ref` points to, or a `!Sub`'s
/// text.
fn resource_name(resource: &Yaml) -> String {
    ["Fn::GetAtt", "Ref", "Fn::Sub"]
        .into_iter()
        .find_map(|function| resource[function].as_str())
        .unwrap_or_else(|| text(resource))
        .to_string()
}

/// What a statement on the table limits besides its partition keys, as
/// ` attributes [..] select ..`: the attributes it may touch (`dynamodb:Attributes`) and
/// the `Select` a read must ask for (`dynamodb:Select`). Any other condition fails.
fn attribute_limits(statement: &Yaml) -> String {
    let condition = &statement["Condition"];
    for (operator, keys) in condition.as_hash().expect("a condition") {
        for key in keys.as_hash().expect("condition keys").keys() {
            match (text(operator), text(key)) {
                (
                    "ForAllValues:StringLike" | "ForAllValues:StringEquals",
                    "dynamodb:LeadingKeys",
                )
                | ("ForAllValues:StringEquals", "dynamodb:Attributes")
                | ("StringEquals", "dynamodb:Select") => {}
                other => panic!("a condition this test does not read: {other:?}"),
            }
        }
    }
    let mut limits = String::new();
    let attributes = &condition["ForAllValues:StringEquals"]["dynamodb:Attributes"];
    if !attributes.is_badvalue() {
        limits.push_str(&format!(" attributes {:?}", strings(attributes)));
    }
    let select = &condition["StringEquals"]["dynamodb:Select"];
    if !select.is_badvalue() {
        limits.push_str(&format!(" select {}", text(select)));
    }
    limits
}

/// Every grant of a function's policies, one per action and resource: `action on
/// resource`, and on the table the partition keys it is limited to and any limits on
/// attributes.
fn grants(function: &Yaml) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for statement in statements(function) {
        assert!(statement["NotAction"].is_badvalue() && statement["NotResource"].is_badvalue());
        for action in actions(statement) {
            for resource in one_or_many(&statement["Resource"]) {
                let name = resource_name(resource);
                let keys = if name == "Table.Arn" {
                    format!(
                        " {:?}{}",
                        leading_keys(statement),
                        attribute_limits(statement)
                    )
                } else if action == "ses:SendEmail" {
                    // From one sender only (checked where the function's grants are).
                    String::new()
                } else {
                    assert!(statement["Condition"].is_badvalue(), "{statement:?}");
                    String::new()
                };
                all.insert(format!("{action} on {name}{keys}"));
            }
        }
    }
    all
}

/// The logical id of the function that builds `binary`.
fn logical_id<'a>(template: &'a Yaml, binary: &str) -> &'a str {
    let wanted = function(template, binary);
    let (id, _) = template["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .find(|(_, resource)| *resource == wanted)
        .unwrap();
    text(id)
}

/// The resources of one type, by logical id.
pub(crate) fn resources_of<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    template["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (text(id), &resource["Properties"]))
        .collect()
}

/// The read-mark functions may do what they do and nothing more: read the caller (the
/// customer's) and the conversation, query its messages, update its `META` item.
#[test]
fn the_read_mark_functions_have_exactly_the_grants_they_use() {
    let template = template();
    let expected: [(&str, Vec<&str>); 2] = [
        (
            "conversation-read",
            vec![
                r#"dynamodb:BatchGetItem on Table.Arn ["USER#*", "CONV#*"]"#,
                r#"dynamodb:GetItem on Table.Arn ["USER#*"]"#,
                r#"dynamodb:Query on Table.Arn ["CONV#*"]"#,
                r#"dynamodb:UpdateItem on Table.Arn ["CONV#*"]"#,
            ],
        ),
        (
            "agent-read",
            vec![
                r#"dynamodb:GetItem on Table.Arn ["CONV#*"]"#,
                r#"dynamodb:Query on Table.Arn ["CONV#*"]"#,
                r#"dynamodb:UpdateItem on Table.Arn ["CONV#*"]"#,
            ],
        ),
    ];
    for (binary, allowed) in expected {
        let allowed: BTreeSet<String> = allowed.into_iter().map(String::from).collect();
        assert_eq!(grants(function(&template, binary)), allowed, "{binary}");
    }
}

/// The realtime and webhook functions may do what they do and nothing more: each action
/// on each resource is listed here, and the key patterns are the store's keys.
#[test]
fn each_realtime_function_has_exactly_the_grants_it_uses() {
    use supportzen_shared::domain::{ConversationId, Email};
    use supportzen_shared::dynamo::items::{
        WEBHOOKS_PK, conversation_pk, ticket_pk, user_pk, watch_pk,
    };
    use supportzen_shared::events::ConnectTicket;
    use supportzen_shared::store::Audience;

    let template = template();
    let stage =
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/live";
    // What `WebhookRegistry::subscriptions` asks for (its `ProjectionExpression`), after
    // the table's keys.
    let subscription: Vec<&str> = ["pk", "sk"]
        .into_iter()
        .chain(supportzen_shared::dynamo::items::SUBSCRIPTION_ATTRIBUTES)
        .collect();
    let expected: [(&str, Vec<String>); 7] = [
        (
            "ws-typing",
            vec![
                r#"dynamodb:UpdateItem on Table.Arn ["TYPING#*"]"#.into(),
                r#"dynamodb:GetItem on Table.Arn ["CONV#*"]"#.into(),
                r#"dynamodb:Query on Table.Arn ["WATCH#*"]"#.into(),
                format!("execute-api:ManageConnections on {stage}/POST/@connections/*"),
            ],
        ),
        (
            "realtime-ticket",
            vec![
                r#"dynamodb:GetItem on Table.Arn ["USER#*"]"#.into(),
                r#"dynamodb:PutItem on Table.Arn ["TICKET#*"]"#.into(),
            ],
        ),
        (
            "agent-realtime-ticket",
            vec![r#"dynamodb:PutItem on Table.Arn ["TICKET#*"]"#.into()],
        ),
        (
            "ws-authorize",
            vec![r#"dynamodb:DeleteItem on Table.Arn ["TICKET#*"]"#.into()],
        ),
        (
            "ws-connection",
            vec![
                r#"dynamodb:DeleteItem on Table.Arn ["WATCH#*"]"#.into(),
                r#"dynamodb:PutItem on Table.Arn ["WATCH#*"]"#.into(),
            ],
        ),
        (
            "events-stream",
            vec![
                "dynamodb:DescribeStream on ${Table.Arn}/stream/*".into(),
                "dynamodb:GetRecords on ${Table.Arn}/stream/*".into(),
                "dynamodb:GetShardIterator on ${Table.Arn}/stream/*".into(),
                "dynamodb:ListStreams on ${Table.Arn}/stream/*".into(),
                r#"dynamodb:GetItem on Table.Arn ["CONV#*"]"#.into(),
                r#"dynamodb:Query on Table.Arn ["WATCH#*"]"#.into(),
                // The endpoints' subscriptions: no URL, no secret. DynamoDB requires the
                // table's key attributes in the list.
                format!(
                    r#"dynamodb:Query on Table.Arn ["WEBHOOKS"] attributes {subscription:?} select SPECIFIC_ATTRIBUTES"#
                ),
                r#"dynamodb:DeleteItem on Table.Arn ["WATCH#*"]"#.into(),
                format!("execute-api:ManageConnections on {stage}/POST/@connections/*"),
                "sqs:SendMessage on WebhookQueue.Arn".into(),
                "sqs:SendMessage on EventsDeadLetterQueue.Arn".into(),
            ],
        ),
        (
            "webhook-deliver",
            vec![
                r#"dynamodb:Query on Table.Arn ["WEBHOOKS"]"#.into(),
                r#"dynamodb:UpdateItem on Table.Arn ["WEBHOOKS"]"#.into(),
                "sqs:ReceiveMessage on WebhookQueue.Arn".into(),
                "sqs:DeleteMessage on WebhookQueue.Arn".into(),
                "sqs:GetQueueAttributes on WebhookQueue.Arn".into(),
                "sqs:ChangeMessageVisibility on WebhookQueue.Arn".into(),
            ],
        ),
    ];
    for (binary, allowed) in expected {
        let allowed: BTreeSet<String> = allowed.into_iter().collect();
        assert_eq!(grants(function(&template, binary)), allowed, "{binary}");
    }

    // The patterns above cover the items the store writes, and only those.
    let ann = Email::parse("ann@example.com").unwrap().user_id().clone();
    let ticket = ticket_pk(&ConnectTicket::generate().digest());
    let watched = [
        watch_pk(&Audience::Agents),
        watch_pk(&Audience::Customer(ann.clone())),
    ];
    let conversation = conversation_pk(&ConversationId::from_stored("ticket", "TKT-001").unwrap());
    assert!(like("TICKET#*", &ticket) && !like("TICKET#*", &user_pk(&ann)));
    assert!(
        watched
            .iter()
            .all(|pk| like("WATCH#*", pk) && !like("CONV#*", pk))
    );
    assert!(like("CONV#*", &conversation) && !like("WATCH#*", &conversation));
    assert!(like("USER#*", &user_pk(&ann)));
    let typing = supportzen_shared::dynamo::items::typing_pk(
        &ConversationId::from_stored("ticket", "TKT-001").unwrap(),
    );
    assert!(
        like("TYPING#*", &typing) && !like("CONV#*", &typing) && !like("TYPING#*", &conversation)
    );
    assert_eq!(WEBHOOKS_PK, "WEBHOOKS");
}

/// `$connect` runs the ticket authorizer, with the ticket as its identity source, and
/// both routes go to ws-connection; API Gateway may invoke exactly those functions.
#[test]
fn the_websocket_api_opens_only_with_a_redeemed_ticket() {
    use supportzen_shared::store::GONE_GRACE_MS;
    use supportzen_shared::ws::TICKET_PARAMETER;

    let template = template();
    let resources = &template["Resources"];
    let api = &resources["WebSocketApi"];
    assert_eq!(text(&api["Type"]), "AWS::ApiGatewayV2::Api");
    assert_eq!(text(&api["Properties"]["ProtocolType"]), "WEBSOCKET");
    let api_ref = intrinsic("Ref", "WebSocketApi");
    let lambda_uri = |binary: &str| {
        format!(
            "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations",
            logical_id(&template, binary)
        )
    };

    let [(authorizer_id, authorizer)] =
        <[_; 1]>::try_from(resources_of(&template, "AWS::ApiGatewayV2::Authorizer")).unwrap();
    assert_eq!(authorizer["ApiId"], api_ref);
    assert_eq!(text(&authorizer["AuthorizerType"]), "REQUEST");
    assert_eq!(
        strings(&authorizer["IdentitySource"]),
        [format!("route.request.querystring.{TICKET_PARAMETER}")]
    );
    assert_eq!(
        text(&authorizer["AuthorizerUri"]["Fn::Sub"]),
        lambda_uri("ws-authorize")
    );

    // One integration per function: ws-connection's, ws-typing's.
    let integrations: HashMap<String, &str> =
        resources_of(&template, "AWS::ApiGatewayV2::Integration")
            .into_iter()
            .map(|(id, integration)| {
                assert_eq!(integration["ApiId"], api_ref);
                assert_eq!(text(&integration["IntegrationType"]), "AWS_PROXY");
                (
                    text(&integration["IntegrationUri"]["Fn::Sub"]).to_string(),
                    id,
                )
            })
            .collect();
    assert_eq!(integrations.len(), 2);
    let integration_of = |binary: &str| integrations[&lambda_uri(binary)];
    // Frames are routed by their action; typing is the one a client sends.
    assert_eq!(
        text(&api["Properties"]["RouteSelectionExpression"]),
        "$request.body.action"
    );

    let routes = resources_of(&template, "AWS::ApiGatewayV2::Route");
    let keys: BTreeSet<&str> = routes.iter().map(|(_, r)| text(&r["RouteKey"])).collect();
    assert_eq!(keys, BTreeSet::from(["$connect", "$disconnect", "typing"]));
    for (_, route) in &routes {
        assert_eq!(route["ApiId"], api_ref);
        let binary = match text(&route["RouteKey"]) {
            "typing" => "ws-typing",
            _ => "ws-connection",
        };
        assert_eq!(
            text(&route["Target"]["Fn::Sub"]),
            format!("integrations/${{{}}}", integration_of(binary))
        );
        if text(&route["RouteKey"]) == "$connect" {
            assert_eq!(text(&route["AuthorizationType"]), "CUSTOM");
            assert_eq!(route["AuthorizerId"], intrinsic("Ref", authorizer_id));
        }
    }

    let invoker =
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}";
    let permitted: BTreeSet<(String, String)> = resources_of(&template, "AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, permission)| {
            assert_eq!(text(&permission["Action"]), "lambda:InvokeFunction");
            assert_eq!(text(&permission["Principal"]), "apigateway.amazonaws.com");
            (
                text(&permission["FunctionName"]["Ref"]).to_string(),
                text(&permission["SourceArn"]["Fn::Sub"]).to_string(),
            )
        })
        .collect();
    let connection = logical_id(&template, "ws-connection").to_string();
    assert_eq!(
        permitted,
        BTreeSet::from([
            (
                logical_id(&template, "ws-authorize").to_string(),
                format!("{invoker}/authorizers/${{{authorizer_id}}}")
            ),
            (connection.clone(), format!("{invoker}/*/$connect")),
            (connection, format!("{invoker}/*/$disconnect")),
            (
                logical_id(&template, "ws-typing").to_string(),
                format!("{invoker}/*/typing")
            ),
        ])
    );

    // One stage, named as the function's endpoint and the output name it.
    let [(stage_id, stage)] =
        <[_; 1]>::try_from(resources_of(&template, "AWS::ApiGatewayV2::Stage")).unwrap();
    let name = text(&stage["StageName"]);
    for poster in ["events-stream", "ws-typing"] {
        let endpoint = &function(&template, poster)["Properties"]["Environment"]["Variables"]["WEBSOCKET_ENDPOINT"]
            ["Fn::Sub"];
        assert_eq!(
            text(endpoint),
            format!(
                "https://${{WebSocketApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{name}"
            ),
            "{poster}"
        );
    }
    assert_eq!(
        text(&template["Outputs"]["WebSocketUrl"]["Value"]["Fn::Sub"]),
        format!("wss://${{WebSocketApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{name}")
    );
    // Deployed by the stage itself, on every change to the API: a Deployment resource is
    // made once and never again, so a stack update's route changes would never go live.
    assert_eq!(stage["ApiId"], api_ref);
    assert_eq!(stage["AutoDeploy"].as_bool(), Some(true));
    assert!(stage["DeploymentId"].is_badvalue());
    assert!(resources_of(&template, "AWS::ApiGatewayV2::Deployment").is_empty());
    let waits_for: BTreeSet<String> = strings(&resources[stage_id]["DependsOn"])
        .into_iter()
        .collect();
    let route_ids: BTreeSet<String> = routes.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(waits_for, route_ids, "created once the routes exist");

    // A connection that answers 410 within the grace period may still be opening: the
    // authorizer and the $connect route, each at most its timeout, fit in it.
    let timeout = |binary: &str| {
        let own = &function(&template, binary)["Properties"]["Timeout"];
        let timeout = if own.is_badvalue() {
            &template["Globals"]["Function"]["Timeout"]
        } else {
            own
        };
        timeout.as_i64().expect("a timeout in seconds") * 1000
    };
    assert!(timeout("ws-authorize") + timeout("ws-connection") < GONE_GRACE_MS);
}

/// The stream's and the queue's consumers report failures per item; what they give up
/// on lands in a dead-letter queue; a webhook delivery is attempted once and retried on
/// every wait of the schedule before its queue moves it to the dead letters.
#[test]
fn the_stream_and_the_queue_report_item_failures_and_keep_dead_letters() {
    use supportzen_shared::events::webhooks::{RETRY_DELAYS, RETRY_WINDOW};
    use supportzen_shared::webhook_client::ATTEMPT_TIMEOUT;

    let template = template();
    let resources = &template["Resources"];
    let table = &resources["Table"]["Properties"];
    assert_eq!(
        text(&table["StreamSpecification"]["StreamViewType"]),
        "NEW_AND_OLD_IMAGES"
    );
    let number = |yaml: &Yaml| {
        yaml.as_i64()
            .unwrap_or_else(|| panic!("expected a number, got {yaml:?}"))
    };
    let queue = |name: &str| {
        let queue = &resources[name];
        assert_eq!(text(&queue["Type"]), "AWS::SQS::Queue", "{name}");
        assert_eq!(
            queue["Properties"]["SqsManagedSseEnabled"].as_bool(),
            Some(true)
        );
        &queue["Properties"]
    };

    let mappings = resources_of(&template, "AWS::Lambda::EventSourceMapping");
    assert_eq!(mappings.len(), 2);
    let mapping = |binary: &str| {
        let function = intrinsic("Ref", logical_id(&template, binary));
        let (_, found) = mappings
            .iter()
            .find(|(_, m)| m["FunctionName"] == function)
            .unwrap_or_else(|| panic!("no event source for {binary}"));
        assert_eq!(
            strings(&found["FunctionResponseTypes"]),
            ["ReportBatchItemFailures"]
        );
        *found
    };

    // The stream: retried from the failed record, bisected, bounded, then dead-lettered.
    let stream = mapping("events-stream");
    assert_eq!(
        stream["EventSourceArn"],
        intrinsic("Fn::GetAtt", "Table.StreamArn")
    );
    assert_eq!(stream["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert!(number(&stream["MaximumRetryAttempts"]) >= 1);
    let dead = &stream["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"];
    let dead = text(dead).strip_suffix(".Arn").unwrap();
    assert!(number(&queue(dead)["MessageRetentionPeriod"]) >= 7 * 24 * 3600);
    let pattern: serde_json::Value =
        serde_json::from_str(text(&stream["FilterCriteria"]["Filters"][0]["Pattern"])).unwrap();
    assert_eq!(pattern["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"], "CONV#");

    // The webhook queue: one attempt and a retry per wait, then the dead letters.
    let deliver = mapping("webhook-deliver");
    assert_eq!(
        deliver["EventSourceArn"],
        intrinsic("Fn::GetAtt", "WebhookQueue.Arn")
    );
    let webhooks = queue("WebhookQueue");
    let redrive = &webhooks["RedrivePolicy"];
    assert_eq!(
        number(&redrive["maxReceiveCount"]),
        i64::try_from(RETRY_DELAYS.len() + 1).unwrap()
    );
    assert_eq!(
        redrive["deadLetterTargetArn"],
        intrinsic("Fn::GetAtt", "WebhookDeadLetterQueue.Arn")
    );
    let window = i64::try_from(RETRY_WINDOW.as_secs()).unwrap();
    let retention = number(&webhooks["MessageRetentionPeriod"]);
    assert!(
        retention >= window + 24 * 3600,
        "24 hours of retries and a day to spare"
    );
    assert!(number(&queue("WebhookDeadLetterQueue")["MessageRetentionPeriod"]) > retention);
    // Lambda requires the queue to hide a message longer than the function may run, and
    // the function must outlast an attempt.
    let timeout = number(&function(&template, "webhook-deliver")["Properties"]["Timeout"]);
    assert!(number(&webhooks["VisibilityTimeout"]) >= 6 * timeout);
    assert!(timeout > i64::try_from(ATTEMPT_TIMEOUT.as_secs()).unwrap() + 5);
    for binary in ["events-stream", "webhook-deliver"] {
        let variables = &function(&template, binary)["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables["WEBHOOK_QUEUE_URL"],
            intrinsic("Ref", "WebhookQueue"),
            "{binary}"
        );
    }
}

/// The due-work sweep: invoked every minute by EventBridge Scheduler with a role that may
/// invoke this function and nothing else; a failed sweep, after Lambda's retries (or an
/// invocation the scheduler could not hand over), lands in a dead-letter queue kept two
/// weeks. The function may query the due-work index and update conversations, nothing
/// more.
#[test]
fn due_work_runs_every_minute_with_exactly_its_grants_and_a_dead_letter_queue() {
    use supportzen_shared::domain::ConversationId;
    use supportzen_shared::dynamo::items::{conversation_pk, due_pk};

    let template = template();
    let resources = &template["Resources"];
    let function_id = logical_id(&template, "due-work");
    let arn = format!("{function_id}.Arn");

    let expected: BTreeSet<String> = [
        format!(
            "dynamodb:Query on ${{Table.Arn}}/index/{}",
            schema::DUE_WORK.name
        ),
        r#"dynamodb:UpdateItem on Table.Arn ["CONV#*"]"#.to_string(),
        r#"dynamodb:DeleteItem on Table.Arn ["CONV#*"]"#.to_string(),
        r#"dynamodb:GetItem on Table.Arn ["CONV#*"]"#.to_string(),
        r#"dynamodb:Query on Table.Arn ["CONV#*"]"#.to_string(),
        // Whether a customer opted out, and nothing else of their user item.
        r#"dynamodb:GetItem on Table.Arn ["USER#*"] attributes ["pk", "sk", "unsubscribed_at"]"#
            .to_string(),
        "ses:SendEmail on arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"
            .to_string(),
        "sqs:SendMessage on DueWorkDeadLetterQueue.Arn".to_string(),
    ]
    .into_iter()
    .collect();
    assert_eq!(grants(function(&template, "due-work")), expected);
    // SES only from the configured sender.
    let send = statements(function(&template, "due-work"))
        .into_iter()
        .find(|s| actions(s) == ["ses:SendEmail"])
        .unwrap();
    assert_eq!(
        send["Condition"]["StringEquals"]["ses:FromAddress"],
        intrinsic("Ref", "NoticeFrom")
    );
    // The agents' emails (customers' unread messages) go from the same sender, to a
    // team address and with a console link that are both optional; no other grant.
    let variables = &function(&template, "due-work")["Properties"]["Environment"]["Variables"];
    for (variable, parameter) in [
        ("AGENT_NOTICE_EMAIL", "AgentNoticeEmail"),
        ("AGENT_CONVERSATION_URL", "AgentConversationUrl"),
    ] {
        assert_eq!(
            variables[variable],
            intrinsic("Ref", parameter),
            "{variable}"
        );
        assert_eq!(
            text(&template["Parameters"][parameter]["Default"]),
            "",
            "{parameter} is optional"
        );
    }
    // The one-click unsubscribe: the user item's unsubscribed_at, nothing else.
    let unsubscribe: BTreeSet<String> = [
        r#"dynamodb:UpdateItem on Table.Arn ["USER#*"] attributes ["pk", "sk", "unsubscribed_at"]"#
            .to_string(),
    ]
    .into_iter()
    .collect();
    assert_eq!(grants(function(&template, "unsubscribe")), unsubscribe);
    // Its secret reaches these two functions only, and is never echoed.
    let source = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert_eq!(
        source
            .matches("UNSUBSCRIBE_SECRET: !Ref UnsubscribeSecret")
            .count(),
        2
    );
    assert_eq!(
        template["Parameters"]["UnsubscribeSecret"]["NoEcho"].as_bool(),
        Some(true)
    );
    let conversation = conversation_pk(&ConversationId::from_stored("ticket", "TKT-001").unwrap());
    assert!(like("CONV#*", &conversation));
    // The index's partitions are not the table's: the UpdateItem grant cannot reach them.
    assert!(!like("CONV#*", &due_pk(0)));

    let schedules = resources_of(&template, "AWS::Scheduler::Schedule");
    assert_eq!(schedules.len(), 1);
    let (_, schedule) = schedules[0];
    assert_eq!(text(&schedule["ScheduleExpression"]), "rate(1 minute)");
    assert_eq!(text(&schedule["FlexibleTimeWindow"]["Mode"]), "OFF");
    let target = &schedule["Target"];
    assert_eq!(target["Arn"], intrinsic("Fn::GetAtt", &arn));
    let dead = intrinsic("Fn::GetAtt", "DueWorkDeadLetterQueue.Arn");
    assert_eq!(target["DeadLetterConfig"]["Arn"], dead);

    // The scheduler's role: assumed by the scheduler of this account only, and allowed
    // to invoke this one function and to dead-letter to its queue.
    let role_id = text(&target["RoleArn"]["Fn::GetAtt"])
        .strip_suffix(".Arn")
        .unwrap();
    let role = &resources[role_id]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        text(&trust["Principal"]["Service"]),
        "scheduler.amazonaws.com"
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        intrinsic("Ref", "AWS::AccountId")
    );
    let mut role_grants = BTreeSet::new();
    for policy in role["Policies"].as_vec().unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_vec().unwrap() {
            assert_eq!(text(&statement["Effect"]), "Allow");
            for action in actions(statement) {
                for resource in one_or_many(&statement["Resource"]) {
                    role_grants.insert(format!("{action} on {}", resource_name(resource)));
                }
            }
        }
    }
    let expected_role: BTreeSet<String> = [
        format!("lambda:InvokeFunction on {arn}"),
        "sqs:SendMessage on DueWorkDeadLetterQueue.Arn".to_string(),
    ]
    .into_iter()
    .collect();
    assert_eq!(role_grants, expected_role);
    // No other role in the stack that anything could assume to invoke the function: the
    // only other is API Gateway's logging role (docs/operations.md), which can push logs.
    let roles = resources_of(&template, "AWS::IAM::Role");
    assert_eq!(roles.len(), 2);
    let logging = &template["Resources"]["ApiGatewayLoggingRole"]["Properties"];
    assert_eq!(
        logging["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        Yaml::String("apigateway.amazonaws.com".into())
    );
    assert!(logging["Policies"].is_badvalue());
    assert_eq!(
        logging["ManagedPolicyArns"],
        yaml(
            r#"[{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]"#
        )
    );

    // Asynchronous invocations: retried, bounded in age, then dead-lettered.
    let configs = resources_of(&template, "AWS::Lambda::EventInvokeConfig");
    assert_eq!(configs.len(), 1);
    let (_, config) = configs[0];
    assert_eq!(config["FunctionName"], intrinsic("Ref", function_id));
    assert_eq!(
        config["DestinationConfig"]["OnFailure"]["Destination"],
        dead
    );
    assert!(config["MaximumRetryAttempts"].as_i64().unwrap() >= 1);
    let queue = &resources["DueWorkDeadLetterQueue"];
    assert_eq!(text(&queue["Type"]), "AWS::SQS::Queue");
    assert_eq!(
        queue["Properties"]["SqsManagedSseEnabled"].as_bool(),
        Some(true)
    );
    assert!(
        queue["Properties"]["MessageRetentionPeriod"]
            .as_i64()
            .unwrap()
            >= 7 * 24 * 3600
    );
    // Its timeout leaves the next minute's sweep a container of its own.
    assert!(
        function(&template, "due-work")["Properties"]["Timeout"]
            .as_i64()
            .unwrap()
            < 60
    );
}

/// The message limit is counted in the customer's own write: the four functions that
/// store a customer's message may update message counts (`RATE#`), and no other function
/// may touch them.
#[test]
fn only_the_customer_writers_count_messages() {
    let template = template();
    let writers = [
        Endpoint::LiveCreate,
        Endpoint::LiveChat,
        Endpoint::TicketCreate,
        Endpoint::TicketAppend,
    ];
    for (endpoint, function) in functions(&template) {
        let counts = statements(function)
            .into_iter()
            .filter(|statement| {
                one_or_many(&statement["Resource"]).contains(&&table_arn())
                    && leading_keys(statement)
                        .iter()
                        .any(|p| like(p, "RATE#ann@example.com"))
            })
            .map(actions)
            .collect::<Vec<_>>();
        if writers.contains(&endpoint) {
            assert_eq!(counts, [["dynamodb:UpdateItem"]], "{}", endpoint.name());
        } else {
            assert!(
                counts.is_empty(),
                "{} may touch message counts",
                endpoint.name()
            );
        }
    }
}
