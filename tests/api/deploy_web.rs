//! `scripts/deploy-web` against moto's server (which ./scripts/test starts and names in
//! `AWS_ENDPOINT_URL_S3`; one moto server answers S3, CloudFormation and CloudFront): a
//! stack with the outputs `HostWeb=true` gives, whose web bucket is real and whose
//! distribution moto keeps. The script writes config.json from the outputs, uploads each
//! file of web/console/ and the messenger's two with its type and `no-cache`, and
//! invalidates the cache; `--dry-run` changes nothing; a stack without the outputs is
//! refused, naming the parameter.

use serde_json::{Value, json};
use std::process::{Command, Output};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn moto() -> String {
    std::env::var("AWS_ENDPOINT_URL_S3").expect(
        "AWS_ENDPOINT_URL_S3 names no moto server: run these tests with ./scripts/test, which starts one",
    )
}

/// The project's Python (scripts/venv, which ./scripts/test runs), pointed at moto.
fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    command
}

/// Runs a Python program with boto3 on moto; it prints one JSON value.
fn python(program: &str, argument: Value) -> Value {
    let python = root().join(".venv/bin/python");
    let output = command(python.to_str().unwrap())
        .args(["-c", program, &argument.to_string()])
        .output()
        .expect("the project's .venv/ has python: run scripts/venv (./scripts/test does)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A stack named `name` with a web bucket and a distribution, and the outputs of
/// template.yaml's `HostWeb=true` (`web`: false leaves out the web ones).
fn stack(name: &str, web: bool) -> Value {
    python(
        r#"
import boto3, json, sys
arguments = json.loads(sys.argv[1])
distribution = boto3.client("cloudfront").create_distribution(DistributionConfig={
    "CallerReference": arguments["name"], "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "web-bucket", "DomainName": "web.s3.us-east-1.amazonaws.com",
                                          "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "web-bucket", "ViewerProtocolPolicy": "redirect-to-https",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
domain = distribution["DomainName"]
outputs = {
    "ApiUrl": {"Value": "https://api1.execute-api.us-east-1.amazonaws.com"},
    "WebSocketUrl": {"Value": "wss://ws1.execute-api.us-east-1.amazonaws.com/live"},
    "AgentTokenIssuer": {"Value": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"},
    "AgentConsoleClientId": {"Value": "console-client"},
}
if arguments["web"]:
    outputs.update({
        "WebBucketName": {"Value": {"Ref": "WebBucket"}},
        "WebDistributionId": {"Value": distribution["Id"]},
        "ConsoleUrl": {"Value": f"https://{domain}/console/"},
        "WebOrigin": {"Value": f"https://{domain}"},
    })
template = {
    "Parameters": {"CorsAllowedOrigins": {"Type": "String"}, "AgentConsoleUrls": {"Type": "String"}},
    "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": outputs,
}
cloudformation = boto3.client("cloudformation")
cloudformation.create_stack(StackName=arguments["name"], TemplateBody=json.dumps(template), Parameters=[
    {"ParameterKey": "CorsAllowedOrigins", "ParameterValue": "https://app.example.com"},
    {"ParameterKey": "AgentConsoleUrls", "ParameterValue": f"https://{domain}/console/"},
])
found = cloudformation.describe_stacks(StackName=arguments["name"])["Stacks"][0]
bucket = [o["OutputValue"] for o in found["Outputs"] if o["OutputKey"] == "WebBucketName"]
print(json.dumps({"distribution": distribution["Id"], "domain": domain,
                  "bucket": bucket[0] if bucket else None}))
"#,
        json!({"name": name, "web": web}),
    )
}

/// Every object in the bucket: its body, Content-Type and Cache-Control; and the
/// distribution's invalidations, each with its paths.
fn hosted(bucket: &str, distribution: &str) -> Value {
    python(
        r#"
import boto3, json, sys
arguments = json.loads(sys.argv[1])
s3 = boto3.client("s3")
objects = {}
for item in s3.list_objects_v2(Bucket=arguments["bucket"]).get("Contents", []):
    got = s3.get_object(Bucket=arguments["bucket"], Key=item["Key"])
    objects[item["Key"]] = {"body": got["Body"].read().decode(), "type": got["ContentType"],
                            "cache": got.get("CacheControl")}
cloudfront = boto3.client("cloudfront")
listed = cloudfront.list_invalidations(DistributionId=arguments["distribution"])["InvalidationList"]
paths = [cloudfront.get_invalidation(DistributionId=arguments["distribution"], Id=i["Id"])
         ["Invalidation"]["InvalidationBatch"]["Paths"].get("Items", []) for i in listed.get("Items", [])]
print(json.dumps({"objects": objects, "invalidations": paths}))
"#,
        json!({"bucket": bucket, "distribution": distribution}),
    )
}

fn deploy_web(arguments: &[&str]) -> Output {
    command(root().join("scripts/deploy-web").to_str().unwrap())
        .args(arguments)
        .output()
        .unwrap()
}

fn stack_name(what: &str) -> String {
    format!("deploy-web-{what}-{}", uuid::Uuid::now_v7().simple())
}

#[test]
fn deploy_web_uploads_the_console_and_the_messenger_with_their_config_then_invalidates() {
    let name = stack_name("upload");
    let stack = stack(&name, true);
    let (bucket, distribution, domain) = (
        stack["bucket"].as_str().unwrap(),
        stack["distribution"].as_str().unwrap(),
        stack["domain"].as_str().unwrap(),
    );

    let output = deploy_web(&["--stack-name", &name]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let console_url = format!("https://{domain}/console/");
    assert!(stdout.contains(&console_url), "{stdout}");

    let hosted = hosted(bucket, distribution);
    let objects = hosted["objects"].as_object().unwrap();
    // Every file the console and the messenger load, where serve serves it, as in the
    // repository, byte for byte.
    let mut expected = vec![
        ("web/client.js".to_string(), root().join("web/client.js")),
        (
            "web/messenger.js".to_string(),
            root().join("web/messenger.js"),
        ),
    ];
    for entry in std::fs::read_dir(root().join("web/console")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        expected.push((format!("console/{name}"), path));
    }
    assert_eq!(objects.len(), expected.len() + 1, "{:?}", objects.keys());
    for (key, path) in &expected {
        let object = &objects[key.as_str()];
        assert_eq!(
            object["body"].as_str().unwrap(),
            std::fs::read_to_string(path).unwrap(),
            "{key}"
        );
        let extension = path.extension().unwrap().to_str().unwrap();
        let kind = match extension {
            "html" => "text/html; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            other => panic!("web/ has a .{other} file the test does not know"),
        };
        assert_eq!(object["type"], kind, "{key}");
        assert_eq!(object["cache"], "no-cache", "{key}");
    }
    // config.json: the console's production mode, from the stack's outputs.
    let config = &objects["console/config.json"];
    assert_eq!(config["type"], "application/json");
    assert_eq!(config["cache"], "no-cache");
    let config: Value = serde_json::from_str(config["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        config,
        json!({
            "mode": "oidc",
            "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool",
            "clientId": "console-client",
            "api": "https://api1.execute-api.us-east-1.amazonaws.com",
            "socketUrl": "wss://ws1.execute-api.us-east-1.amazonaws.com/live",
            "redirectUri": console_url,
        })
    );
    // The whole cache, once.
    assert_eq!(hosted["invalidations"], json!([["/*"]]));
    // The sign-in page may send agents back (AgentConsoleUrls names the console), but the
    // API's CORS does not name its origin yet: the operator is told which parameter.
    assert!(
        stderr.contains(&format!(
            "warning: CorsAllowedOrigins does not name https://{domain}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("AgentConsoleUrls"), "{stderr}");
}

#[test]
fn deploy_web_dry_run_prints_the_plan_and_changes_nothing() {
    let name = stack_name("dry-run");
    let stack = stack(&name, true);
    let (bucket, distribution) = (
        stack["bucket"].as_str().unwrap(),
        stack["distribution"].as_str().unwrap(),
    );

    let output = deploy_web(&["--stack-name", &name, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for key in [
        "console/index.html",
        "console/console.js",
        "console/config.json",
        "web/client.js",
        "web/messenger.js",
    ] {
        assert!(stdout.contains(&format!("  {key}  ")), "{key}: {stdout}");
    }
    assert!(stdout.contains(&format!(
        "would invalidate /* on CloudFront distribution {distribution}"
    )));
    assert_eq!(
        hosted(bucket, distribution),
        json!({"objects": {}, "invalidations": []})
    );
}

#[test]
fn deploy_web_refuses_a_stack_without_the_web_host() {
    let name = stack_name("no-web");
    stack(&name, false);

    let output = deploy_web(&["--stack-name", &name]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deploy it with HostWeb=true"), "{stderr}");
    assert!(output.stdout.is_empty());
}
