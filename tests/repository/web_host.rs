//! template.yaml's host for the agent console and the messenger's files (HostWeb): only
//! with the parameter on; a private bucket that only the stack's distribution reads,
//! through origin access control; HTTPS only; the console's pages with the local
//! server's Content-Security-Policy widened by exactly the API, the socket, the identity
//! provider and the attachments bucket, HSTS, nosniff and no framing.

use crate::template::{intrinsic, template, text};
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

const CONDITION: &str = "HostsWeb";

fn yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text).unwrap().remove(0)
}

fn strings(yaml: &Yaml) -> Vec<&str> {
    yaml.as_vec()
        .unwrap_or_else(|| panic!("expected a list, got {yaml:?}"))
        .iter()
        .map(text)
        .collect()
}

/// The web host's resources: CloudFront's, and the S3 ones but the attachments'.
fn web_resources(template: &Yaml) -> BTreeSet<&str> {
    template["Resources"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(id, resource)| {
            let kind = text(&resource["Type"]);
            kind.starts_with("AWS::CloudFront::")
                || (kind.starts_with("AWS::S3::") && !text(id).starts_with("Attachments"))
        })
        .map(|(id, _)| text(id))
        .collect()
}

#[test]
fn the_web_host_exists_only_with_host_web_on() {
    let template = template();
    let parameter = &template["Parameters"]["HostWeb"];
    assert_eq!(text(&parameter["Default"]), "false");
    assert_eq!(strings(&parameter["AllowedValues"]), ["true", "false"]);
    assert_eq!(
        template["Conditions"][CONDITION],
        yaml(r#"{"Fn::Equals": [{"Ref": "HostWeb"}, "true"]}"#)
    );
    let resources = web_resources(&template);
    assert_eq!(
        resources,
        BTreeSet::from([
            "WebBucket",
            "WebBucketPolicy",
            "WebOriginAccessControl",
            "WebIndexFunction",
            "WebConsoleHeaders",
            "WebScriptHeaders",
            "WebDistribution",
        ])
    );
    for id in resources {
        assert_eq!(
            text(&template["Resources"][id]["Condition"]),
            CONDITION,
            "{id}"
        );
    }
    // Their names are unique per account and CloudFront takes at most 64 characters (128
    // for a headers policy): each is a prefix and the stack's UUID (36), whatever the
    // stack's name.
    for (id, path, limit) in [
        (
            "WebOriginAccessControl",
            ["OriginAccessControlConfig", "Name"],
            64,
        ),
        ("WebIndexFunction", ["Name", ""], 64),
        (
            "WebConsoleHeaders",
            ["ResponseHeadersPolicyConfig", "Name"],
            128,
        ),
        (
            "WebScriptHeaders",
            ["ResponseHeadersPolicyConfig", "Name"],
            128,
        ),
    ] {
        let mut name = &template["Resources"][id]["Properties"][path[0]];
        if !path[1].is_empty() {
            name = &name[path[1]];
        }
        let sub = name["Fn::Sub"]
            .as_vec()
            .expect("a !Sub of the stack's UUID");
        let uuid = &sub[1]["StackUuid"];
        assert_eq!(
            *uuid,
            yaml(r#"{"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}"#)
        );
        let longest = text(&sub[0]).replace("${StackUuid}", &"x".repeat(36));
        assert!(longest.len() <= limit, "{id}: {longest}");
    }
    // Outputs naming them exist only with them; ConsoleUrl is what AgentConsoleUrls takes.
    for output in [
        "ConsoleUrl",
        "WebOrigin",
        "MessengerScriptUrl",
        "WebBucketName",
        "WebDistributionId",
    ] {
        let output = &template["Outputs"][output];
        assert_eq!(text(&output["Condition"]), CONDITION, "{output:?}");
    }
    assert_eq!(
        template["Outputs"]["ConsoleUrl"]["Value"],
        intrinsic("Fn::Sub", "https://${WebDistribution.DomainName}/console/")
    );
}

#[test]
fn the_web_bucket_is_private_and_only_the_distribution_reads_it() {
    let template = template();
    let resources = &template["Resources"];
    let bucket = &resources["WebBucket"]["Properties"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][setting].as_bool(),
            Some(true),
            "{setting}"
        );
    }
    assert_eq!(
        text(&bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"]),
        "BucketOwnerEnforced"
    );
    assert_eq!(
        text(
            &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                ["SSEAlgorithm"]
        ),
        "AES256"
    );
    // No website hosting, no CORS on the bucket: CloudFront answers browsers.
    assert!(bucket["WebsiteConfiguration"].is_badvalue());
    assert!(bucket["CorsConfiguration"].is_badvalue());

    let policy = &resources["WebBucketPolicy"]["Properties"];
    assert_eq!(policy["Bucket"], intrinsic("Ref", "WebBucket"));
    let statements = policy["PolicyDocument"]["Statement"].as_vec().unwrap();
    let allows: Vec<&Yaml> = statements
        .iter()
        .filter(|s| text(&s["Effect"]) == "Allow")
        .collect();
    assert_eq!(allows.len(), 1, "one grant: CloudFront's reads");
    let read = allows[0];
    assert_eq!(
        read["Principal"],
        yaml(r#"{"Service": "cloudfront.amazonaws.com"}"#)
    );
    assert_eq!(text(&read["Action"]), "s3:GetObject");
    assert_eq!(read["Resource"], intrinsic("Fn::Sub", "${WebBucket.Arn}/*"));
    // ...for this distribution only.
    assert_eq!(
        read["Condition"],
        yaml(
            r#"{"StringEquals": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebDistribution}"}}}"#
        )
    );
    let tls = statements
        .iter()
        .find(|s| text(&s["Effect"]) == "Deny")
        .expect("a TLS-only statement");
    assert_eq!(text(&tls["Principal"]), "*");
    assert_eq!(
        tls["Condition"]["Bool"]["aws:SecureTransport"].as_bool(),
        Some(false)
    );

    // The distribution reaches the bucket through origin access control, signing every
    // request, and not through the legacy origin access identity.
    let access = &resources["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(text(&access["OriginAccessControlOriginType"]), "s3");
    assert_eq!(text(&access["SigningBehavior"]), "always");
    assert_eq!(text(&access["SigningProtocol"]), "sigv4");
    let config = &resources["WebDistribution"]["Properties"]["DistributionConfig"];
    let origins = config["Origins"].as_vec().unwrap();
    assert_eq!(origins.len(), 1);
    let origin = &origins[0];
    assert_eq!(
        origin["DomainName"],
        intrinsic("Fn::GetAtt", "WebBucket.RegionalDomainName")
    );
    assert_eq!(
        origin["OriginAccessControlId"],
        intrinsic("Fn::GetAtt", "WebOriginAccessControl.Id")
    );
    assert_eq!(text(&origin["S3OriginConfig"]["OriginAccessIdentity"]), "");
}

/// The CSP of the default behavior's headers policy, its `${...}` sources named.
fn console_policy(template: &Yaml) -> (&str, &Yaml) {
    let headers = &template["Resources"]["WebConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    let sub = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
        .as_vec()
        .expect("the console's CSP is a !Sub with its sources");
    (text(&sub[0]), &sub[1])
}

#[test]
fn the_web_host_is_https_only_and_the_console_has_a_strict_policy() {
    let template = template();
    let resources = &template["Resources"];
    let config = &resources["WebDistribution"]["Properties"]["DistributionConfig"];
    let mut behaviors = vec![&config["DefaultCacheBehavior"]];
    behaviors.extend(config["CacheBehaviors"].as_vec().unwrap());
    for behavior in &behaviors {
        assert_eq!(
            text(&behavior["ViewerProtocolPolicy"]),
            "redirect-to-https",
            "{behavior:?}"
        );
        assert_eq!(strings(&behavior["AllowedMethods"]), ["GET", "HEAD"]);
    }
    let default = &config["DefaultCacheBehavior"];
    assert_eq!(
        default["ResponseHeadersPolicyId"],
        intrinsic("Ref", "WebConsoleHeaders")
    );
    // /console/ is console/index.html: S3 behind origin access control resolves keys only.
    let function = &default["FunctionAssociations"][0];
    assert_eq!(text(&function["EventType"]), "viewer-request");
    assert_eq!(
        function["FunctionARN"],
        intrinsic("Fn::GetAtt", "WebIndexFunction.FunctionARN")
    );
    let code = text(&resources["WebIndexFunction"]["Properties"]["FunctionCode"]);
    assert!(code.contains("'index.html'") && code.contains("'/console/'"));
    let scripts = &behaviors[1];
    assert_eq!(text(&scripts["PathPattern"]), "web/*");
    assert_eq!(
        scripts["ResponseHeadersPolicyId"],
        intrinsic("Ref", "WebScriptHeaders")
    );

    // The local server's policy (cli/src/console.rs), plus exactly the stack's endpoints.
    let (policy, sources) = console_policy(&template);
    let local = supportzen::console::CONTENT_SECURITY_POLICY;
    assert_eq!(
        policy
            .replace(" ${Files}", "")
            .replace(" ${Api} ${Socket} ${Issuer}", ""),
        local
    );
    assert!(policy.contains("img-src 'self' data: ${Files};"));
    assert!(policy.contains("connect-src 'self' ${Api} ${Socket} ${Issuer} ${Files};"));
    assert!(policy.contains("frame-ancestors 'none'"));
    // The origins of the ApiUrl and WebSocketUrl outputs...
    assert_eq!(
        sources["Api"], template["Outputs"]["ApiUrl"]["Value"],
        "the API's origin"
    );
    let socket = text(&template["Outputs"]["WebSocketUrl"]["Value"]["Fn::Sub"]);
    assert_eq!(
        sources["Socket"],
        intrinsic("Fn::Sub", socket.strip_suffix("/live").unwrap())
    );
    // ...the attachments bucket as its upload forms and links name it
    // (shared/src/s3/upload_form.rs: https://{bucket}.s3.{region}.amazonaws.com)...
    assert_eq!(
        sources["Files"],
        intrinsic(
            "Fn::Sub",
            "https://${AttachmentsBucket}.s3.${AWS::Region}.amazonaws.com"
        )
    );
    // ...and the created pool's issuer and sign-in domain, or your own issuer's origin.
    let issuer = sources["Issuer"]["Fn::If"].as_vec().unwrap();
    assert_eq!(text(&issuer[0]), "CreateAgentUserPool");
    let created = text(&issuer[1]["Fn::Sub"]);
    assert!(created.contains("https://cognito-idp.${AWS::Region}.amazonaws.com"));
    assert!(
        created.contains("https://${AgentUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com")
    );
    assert_eq!(
        issuer[2],
        yaml(
            r#"{"Fn::Sub": ["https://${Host}", {"Host": {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::Sub": "${AgentJwtIssuer}//"}]}]}}]}"#
        ),
        "your own issuer's origin"
    );

    for id in ["WebConsoleHeaders", "WebScriptHeaders"] {
        let security =
            &resources[id]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
        let hsts = &security["StrictTransportSecurity"];
        assert!(
            hsts["AccessControlMaxAgeSec"].as_i64().unwrap() >= 31_536_000,
            "{id}"
        );
        assert_eq!(hsts["Override"].as_bool(), Some(true), "{id}");
        assert_eq!(
            security["ContentTypeOptions"]["Override"].as_bool(),
            Some(true),
            "{id}: nosniff"
        );
        let csp = &security["ContentSecurityPolicy"]["ContentSecurityPolicy"];
        let csp = csp.as_str().unwrap_or(policy);
        assert!(csp.contains("frame-ancestors 'none'"), "{id}");
    }
    let frames = &resources["WebConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        ["FrameOptions"];
    assert_eq!(text(&frames["FrameOption"]), "DENY");
    // The messenger's modules answer CORS for the API's browser origins only.
    let cors =
        &resources["WebScriptHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"];
    assert_eq!(
        cors["AccessControlAllowOrigins"]["Items"],
        intrinsic("Ref", "CorsAllowedOrigins")
    );
    assert_eq!(cors["AccessControlAllowCredentials"].as_bool(), Some(false));
}
