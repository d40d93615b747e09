//! What an operator watches after `sam deploy` is in template.yaml: an alarm on every
//! function and every dead-letter queue, the API's error rate, the stream's lag and the
//! table's throttling, all to one topic; tracing on every function; access logs on both
//! APIs; and a dashboard that plots the counters the code emits.

use crate::template::{intrinsic, resources_of, template, text};
use std::collections::BTreeSet;
use supportzen_shared::metrics::Counter;
use yaml_rust2::Yaml;

/// Every `{Fn::GetAtt: X.Arn}` under a key named `key`, anywhere in `yaml`.
fn arns_under(yaml: &Yaml, key: &str, found: &mut BTreeSet<String>) {
    match yaml {
        Yaml::Hash(hash) => {
            for (name, value) in hash {
                if name.as_str() == Some(key)
                    && let Some(target) = value["Fn::GetAtt"].as_str()
                {
                    found.insert(target.trim_end_matches(".Arn").to_string());
                }
                arns_under(value, key, found);
            }
        }
        Yaml::Array(items) => items.iter().for_each(|item| arns_under(item, key, found)),
        _ => {}
    }
}

/// A metric an alarm reads: `(namespace, name, its first dimension's value)`.
type Read = (String, String, Yaml);

/// The alarms, each with the metrics it reads.
fn alarms(template: &Yaml) -> Vec<(&str, &Yaml, Vec<Read>)> {
    resources_of(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, alarm)| {
            let metric = |metric: &Yaml| {
                (
                    text(&metric["Namespace"]).to_string(),
                    text(&metric["MetricName"]).to_string(),
                    metric["Dimensions"][0]["Value"].clone(),
                )
            };
            let read = match alarm["Metrics"].as_vec() {
                Some(metrics) => metrics
                    .iter()
                    .filter(|m| !m["MetricStat"].is_badvalue())
                    .map(|m| metric(&m["MetricStat"]["Metric"]))
                    .collect(),
                None => vec![metric(alarm)],
            };
            (id, alarm, read)
        })
        .collect()
}

#[test]
fn every_alarm_tells_the_alarm_topic_when_it_starts_and_stops() {
    let template = template();
    let alarms = alarms(&template);
    assert!(alarms.len() > 20);
    let topic = Yaml::Array(vec![intrinsic("Ref", "AlarmTopic")]);
    for (id, alarm, _) in &alarms {
        assert_eq!(alarm["AlarmActions"], topic, "{id}");
        assert_eq!(alarm["OKActions"], topic, "{id}");
        assert_eq!(text(&alarm["TreatMissingData"]), "notBreaching", "{id}");
        assert!(!text(&alarm["AlarmDescription"]).is_empty(), "{id}");
    }
    let subscription = &template["Resources"]["AlarmEmailSubscription"];
    assert_eq!(text(&subscription["Condition"]), "HasAlarmEmail");
    assert_eq!(
        subscription["Properties"]["Endpoint"],
        intrinsic("Ref", "AlarmEmail")
    );
}

#[test]
fn every_function_alarms_on_its_errors_and_throttles() {
    let template = template();
    let alarms = alarms(&template);
    let functions = resources_of(&template, "AWS::Serverless::Function");
    assert!(functions.len() >= 20);
    for (function, _) in functions {
        let reference = intrinsic("Ref", function);
        let watching: Vec<_> = alarms
            .iter()
            .filter(|(_, _, read)| read.iter().any(|(_, _, value)| *value == reference))
            .collect();
        let read: BTreeSet<(String, String)> = watching
            .iter()
            .flat_map(|(_, _, read)| read.iter())
            .filter(|(_, _, value)| *value == reference)
            .map(|(namespace, name, _)| (namespace.clone(), name.clone()))
            .collect();
        for metric in ["Errors", "Throttles"] {
            assert!(
                read.contains(&("AWS/Lambda".to_string(), metric.to_string())),
                "no alarm reads {function}'s {metric}"
            );
        }
    }
}

#[test]
fn every_dead_letter_queue_alarms_on_its_first_message() {
    let template = template();
    let mut dead_letter_queues = BTreeSet::new();
    for key in ["deadLetterTargetArn", "Destination", "TargetArn"] {
        arns_under(&template["Resources"], key, &mut dead_letter_queues);
    }
    dead_letter_queues
        .retain(|queue| text(&template["Resources"][queue.as_str()]["Type"]) == "AWS::SQS::Queue");
    assert!(dead_letter_queues.contains("EventsDeadLetterQueue"));
    assert!(dead_letter_queues.contains("WebhookDeadLetterQueue"));
    let alarms = alarms(&template);
    for queue in dead_letter_queues {
        let name = intrinsic("Fn::GetAtt", &format!("{queue}.QueueName"));
        let (id, alarm, _) = alarms
            .iter()
            .find(|(_, _, read)| {
                read.iter().any(|(namespace, metric, value)| {
                    namespace == "AWS/SQS"
                        && metric == "ApproximateNumberOfMessagesVisible"
                        && *value == name
                })
            })
            .unwrap_or_else(|| panic!("no alarm on {queue}"));
        assert_eq!(alarm["Threshold"].as_i64(), Some(1), "{id}");
        assert_eq!(
            text(&alarm["ComparisonOperator"]),
            "GreaterThanOrEqualToThreshold",
            "{id}"
        );
    }
}

#[test]
fn the_api_errors_the_streams_lag_and_the_tables_throttling_alarm() {
    let template = template();
    let alarms = alarms(&template);
    let reads = |namespace: &str, metric: &str, value: &Yaml| {
        alarms.iter().any(|(_, _, read)| {
            read.iter()
                .any(|(n, m, v)| n == namespace && m == metric && v == value)
        })
    };
    assert!(reads("AWS/ApiGateway", "5xx", &intrinsic("Ref", "HttpApi")));
    assert!(reads(
        "AWS/Lambda",
        "IteratorAge",
        &intrinsic("Ref", "EventsStreamFunction")
    ));
    let table = intrinsic("Ref", "Table");
    assert!(reads("AWS/DynamoDB", "ReadThrottleEvents", &table));
    assert!(reads("AWS/DynamoDB", "WriteThrottleEvents", &table));
    // Each index's throttling too: an index throttles apart from its table.
    let indexes = template["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"]
        .as_vec()
        .unwrap();
    // Every throttling alarm's metrics (a metric-math alarm reads at most 10).
    let throttles: Vec<&Yaml> = alarms
        .iter()
        .filter(|(_, _, read)| read.iter().any(|(_, m, _)| m == "ReadThrottleEvents"))
        .flat_map(|(_, alarm, _)| {
            let metrics = alarm["Metrics"].as_vec().unwrap();
            assert!(metrics.len() <= 10, "CloudWatch's limit");
            metrics.iter()
        })
        .collect();
    for index in indexes {
        let name = text(&index["IndexName"]);
        for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
            assert!(
                throttles.iter().any(|m| {
                    let stat = &m["MetricStat"]["Metric"];
                    stat["MetricName"].as_str() == Some(metric)
                        && stat["Dimensions"][1]["Value"].as_str() == Some(name)
                }),
                "{name}'s {metric}"
            );
        }
    }
    let age = alarms
        .iter()
        .find(|(_, _, read)| read.iter().any(|(_, m, _)| m == "IteratorAge"))
        .unwrap();
    assert_eq!(age.1["Threshold"].as_i64(), Some(60_000), "60 s, in ms");
}

#[test]
fn every_function_is_traced_and_both_apis_keep_access_logs() {
    let template = template();
    assert_eq!(text(&template["Globals"]["Function"]["Tracing"]), "Active");
    for (function, properties) in resources_of(&template, "AWS::Serverless::Function") {
        assert!(
            properties["Tracing"].is_badvalue(),
            "{function} overrides the global tracing"
        );
    }
    let resources = &template["Resources"];
    for (api, logs) in [
        ("HttpApi", "ApiAccessLogs"),
        ("WebSocketStage", "WebSocketAccessLogs"),
    ] {
        let settings = &resources[api]["Properties"]["AccessLogSettings"];
        assert_eq!(
            settings["DestinationArn"],
            intrinsic("Fn::GetAtt", &format!("{logs}.Arn")),
            "{api}"
        );
        assert!(text(&settings["Format"]).contains("$context.requestId"));
        assert_eq!(
            resources[logs]["Properties"]["RetentionInDays"],
            intrinsic("Ref", "LogRetentionDays")
        );
    }
}

#[test]
fn the_dashboard_plots_every_counter_the_code_emits() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        globals["METRICS_NAMESPACE"],
        intrinsic("Fn::Sub", "SupportZen/${AWS::StackName}")
    );
    let body = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"];
    let (json, values) = (text(&body[0]), &body[1]);
    assert_eq!(
        values["Namespace"],
        intrinsic("Fn::Sub", "SupportZen/${AWS::StackName}")
    );
    // The body is JSON once ${...} is substituted; substitute placeholders to parse it.
    let substituted = ["${AWS::Region}", "${HttpApi}", "${Prefix}", "${Namespace}"]
        .iter()
        .fold(json.to_string(), |body, placeholder| {
            body.replace(placeholder, "x")
        });
    let dashboard: serde_json::Value =
        serde_json::from_str(&substituted).expect("the dashboard body is JSON");
    let plotted = dashboard.to_string();
    for counter in Counter::ALL {
        assert!(
            plotted.contains(&format!("\"{}\"", counter.name())),
            "the dashboard does not plot {}",
            counter.name()
        );
    }
}
