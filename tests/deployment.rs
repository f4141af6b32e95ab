//! infra/template.yaml and infra/member-role.yaml deployed into moto as CloudFormation would
//! (`zonehop_world::deployment`, `tests/world/deploy_stack.py`): the SAM transform by
//! aws-sam-translator, moto's CloudFormation, the types it lacks through their APIs. Then a
//! `Migration Requested` event on the stack's own bus starts the stack's state machine with
//! the event's detail (moto's EventBridge patched to start Step Functions targets, patch m).
//!
//!     cargo nextest run -p zonehop-tests --test deployment --offline

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use zonehop_world::deployment::{deploy, required_parameters};
use zonehop_world::moto::Moto;

const MEMBERS: [&str; 3] = ["111111111111", "222222222222", "333333333333:registrar"];
const EXTERNAL_ID: &str = "zonehop-deployment-test";

fn template() -> PathBuf {
    zonehop_world::repo_root().join("infra/template.yaml")
}

/// The types moto's CloudFormation lacks, which the deployment creates through their APIs.
const THROUGH_THE_API: [&str; 5] = [
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::MetricFilter",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::Events::EventBusPolicy",
];

async fn deployed(moto: &Moto) -> Value {
    deploy(
        &moto.endpoint(),
        &template(),
        "zonehop",
        &required_parameters(&MEMBERS, EXTERNAL_ID),
        &MEMBERS,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_templates_deploy_whole_and_each_resource_says_how_it_was_created() {
    let moto = Moto::start().await;
    let deployment = deployed(&moto).await;
    assert_eq!(deployment["status"], "CREATE_COMPLETE", "{deployment:#}");
    assert_eq!(deployment["transform"], "aws-sam-translator");

    // Every resource of the translated template, by how it was created.
    let resources = deployment["resources"].as_object().expect("resources");
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, resource) in resources {
        let kind = resource["type"].as_str().expect("type");
        *by_type.entry(kind).or_default() += 1;
        let how = resource["createdBy"].as_str().expect("createdBy");
        if id == "AlarmEmailSubscription" {
            // AlarmEmail is empty: its condition is false, as in CloudFormation.
            assert_eq!(how, "not created: condition HasAlarmEmail is false");
        } else if THROUGH_THE_API.contains(&kind) {
            assert_eq!(how, "api", "{id}: {resource}");
        } else {
            assert_eq!(how, "cloudformation", "{id}: {resource}");
        }
        if how != "api" && how != "cloudformation" {
            continue;
        }
        assert!(resource["physicalId"].is_string(), "{id}: {resource}");
    }
    assert_eq!(
        by_type.get("AWS::Lambda::Function"),
        Some(&12),
        "{by_type:?}"
    );
    assert_eq!(
        by_type.get("AWS::CloudWatch::Alarm"),
        Some(&4),
        "{by_type:?}"
    );
    assert_eq!(by_type.get("AWS::StepFunctions::StateMachine"), Some(&2));
    assert_eq!(by_type.get("AWS::Events::Rule"), Some(&2));

    // Each function as the stack made it: its own role under /zonehop/, the environment of
    // the template's Globals and its own, with the parameters' values.
    let functions = deployment["functions"].as_object().expect("functions");
    assert_eq!(functions.len(), 12, "{functions:#?}");
    for (binary, function) in functions {
        let environment = &function["environment"];
        assert_eq!(environment["ZONEHOP_EXTERNAL_ID"], EXTERNAL_ID, "{binary}");
        assert_eq!(environment["ZONEHOP_RESOLVER"], "1.1.1.1", "{binary}");
        assert_eq!(
            environment["ZONEHOP_ROUTE53_CALLS_PER_SECOND"], "2",
            "{binary}"
        );
        assert!(
            function["role"]
                .as_str()
                .is_some_and(|r| r.starts_with("arn:aws:iam::123456789012:role/zonehop/")),
            "{binary}: {function}"
        );
    }
    // Every function whose code reads the ledger's table gets the stack's Ledger (a function
    // left without it would run without the lock, the baseline or the registrar's operation
    // ids, silently: ConfiguredLedger keeps nothing).
    let ledger = &resources["Ledger"]["physicalId"];
    let readers = ledger_readers();
    assert!(readers.len() >= 7, "{readers:?}");
    for binary in &readers {
        assert_eq!(
            &functions[binary.as_str()]["environment"]["ZONEHOP_LEDGER_TABLE"],
            ledger,
            "{binary} reads the ledger's table and the stack does not give it"
        );
    }

    // The state machine as CloudFormation substituted it: every Lambda task names one of the
    // stack's functions, no placeholder is left.
    let sfn = aws_sdk_sfn::Client::new(&moto.config().await);
    let machine = deployment["outputs"]["StateMachineArn"]
        .as_str()
        .expect("StateMachineArn output");
    let definition = sfn
        .describe_state_machine()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("the stack's state machine")
        .definition;
    assert!(!definition.contains("${"), "a placeholder is left");
    let arns: Vec<&str> = functions
        .values()
        .filter_map(|f| f["arn"].as_str())
        .collect();
    for arn in &arns {
        assert!(definition.contains(arn), "{arn} is in no task");
    }
    let asl: Value = serde_json::from_str(&definition).expect("JSON");
    let mut tasks = Vec::new();
    collect_lambda_tasks(&asl, &mut tasks);
    assert!(tasks.len() >= 12, "{tasks:?}");
    for task in &tasks {
        assert!(arns.contains(&task.as_str()), "a task invokes {task}");
    }

    // The member role in each member account.
    let members = deployment["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    for member in members {
        let account = member["account"].as_str().expect("account");
        assert_eq!(
            member["roleArn"],
            json!(format!("arn:aws:iam::{account}:role/zonehop"))
        );
        assert_eq!(
            member["resources"]["MemberRole"]["createdBy"],
            "cloudformation"
        );
    }
}

/// The function binaries whose code reads `ZONEHOP_LEDGER_TABLE` (`settings.ledger_table`).
fn ledger_readers() -> Vec<String> {
    let functions = zonehop_world::repo_root().join("functions");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&functions).expect("functions/") {
        let dir = entry.expect("entry").path();
        let Some(binary) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !dir.join("src/main.rs").exists() {
            continue;
        }
        let reads = std::fs::read_dir(dir.join("src"))
            .expect("src/")
            .filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok())
            .any(|text| text.contains("ledger_table"));
        if reads {
            out.push(binary);
        }
    }
    out.sort();
    out
}

/// The FunctionName of every `lambda:invoke` task (and plain Lambda ARN resource) in `asl`.
fn collect_lambda_tasks(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("Type") == Some(&json!("Task")) {
                if map["Resource"] == "arn:aws:states:::lambda:invoke" {
                    if let Some(name) = map["Parameters"]["FunctionName"].as_str() {
                        out.push(name.to_owned());
                    }
                } else if let Some(arn) = map["Resource"].as_str() {
                    if arn.starts_with("arn:aws:lambda:") {
                        out.push(arn.to_owned());
                    }
                }
            }
            for v in map.values() {
                collect_lambda_tasks(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_lambda_tasks(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn a_migration_requested_event_on_the_stacks_bus_starts_the_stacks_state_machine() {
    let moto = Moto::start().await;
    let deployment = deployed(&moto).await;
    let config = moto.config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sfn = aws_sdk_sfn::Client::new(&config);
    let machine = deployment["outputs"]["StateMachineArn"]
        .as_str()
        .expect("StateMachineArn");
    let bus = deployment["outputs"]["RequestBusName"]
        .as_str()
        .expect("RequestBusName");
    assert_eq!(bus, "zonehop-requests");
    let executions = || async {
        sfn.list_executions()
            .state_machine_arn(machine)
            .send()
            .await
            .expect("ListExecutions")
            .executions
    };
    let put = |bus: &str, detail_type: &str, detail: &Value| {
        events.put_events().entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source("zonehop")
                .detail_type(detail_type)
                .detail(detail.to_string())
                .build(),
        )
    };
    let request = json!({"domain": "example.com", "dryRun": true});

    // On the default bus no rule of the stack listens: nothing starts.
    let sent = put("default", "Migration Requested", &request)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(sent.failed_entry_count, 0);
    assert!(executions().await.is_empty());

    // On the stack's bus, the rule starts the stack's state machine with the detail.
    let sent = put(bus, "Migration Requested", &request)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(sent.failed_entry_count, 0);
    let started = executions().await;
    assert_eq!(started.len(), 1, "{started:?}");
    let input = sfn
        .describe_execution()
        .execution_arn(started[0].execution_arn())
        .send()
        .await
        .expect("DescribeExecution")
        .input
        .expect("input");
    assert_eq!(
        serde_json::from_str::<Value>(&input).expect("JSON"),
        request
    );

    // A phase event that needs an operator goes to the alarm topic through the
    // NeedsOperatorRule's InputTransformer (moto raised on SNS targets and on the template).
    let sent = put(
        "default",
        "Migration Phase Changed",
        &json!({"domain": "example.com", "phase": "failed", "executionId": "x"}),
    )
    .send()
    .await
    .expect("PutEvents");
    assert_eq!(sent.failed_entry_count, 0);
    assert_eq!(executions().await.len(), 1);
}

/// A copy of the repository's templates and state machines under a temporary directory, with
/// `edit` applied to template.yaml.
fn edited_template(name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let root = zonehop_world::repo_root();
    let dir =
        std::env::temp_dir().join(format!("zonehop-deployment-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("infra")).expect("mkdir");
    std::fs::create_dir_all(dir.join("statemachine")).expect("mkdir");
    for file in ["migration.asl.json", "fleet.asl.json"] {
        std::fs::copy(
            root.join("statemachine").join(file),
            dir.join("statemachine").join(file),
        )
        .expect("copy");
    }
    let original = std::fs::read_to_string(template()).expect("template");
    let edited = edit(&original);
    assert_ne!(edited, original, "{name}: the edit changed nothing");
    let path = dir.join("infra/template.yaml");
    std::fs::write(&path, edited).expect("write");
    path
}

async fn deploy_failure(
    moto: &Moto,
    stack: &str,
    template: &Path,
    parameters: &[(String, String)],
) -> String {
    match deploy(&moto.endpoint(), template, stack, parameters, &[]).await {
        Ok(deployment) => panic!("deployed: {deployment:#}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_template_mistake_fails_the_deployment_by_name() {
    let moto = Moto::start().await;
    let parameters = required_parameters(&MEMBERS, EXTERNAL_ID);

    // A placeholder of the ASL that no DefinitionSubstitutions entry fills.
    let without_bus = edited_template("no-bus-substitution", |t| {
        t.replacen("        EventBusName: !Ref EventBusName\n", "", 1)
    });
    let error = deploy_failure(&moto, "no-bus", &without_bus, &parameters).await;
    assert!(
        error.contains("MigrationStateMachine") && error.contains("EventBusName"),
        "{error}"
    );

    // A required parameter not given.
    let fewer: Vec<(String, String)> = parameters
        .iter()
        .filter(|(k, _)| k != "RequesterArns")
        .cloned()
        .collect();
    let error = deploy_failure(&moto, "fewer", &template(), &fewer).await;
    assert!(
        error.contains("required parameter RequesterArns"),
        "{error}"
    );

    // An alarm property the API does not take (a typo CloudFormation would refuse).
    let typo = edited_template("alarm-typo", |t| {
        t.replacen(
            "      EvaluationPeriods: 1\n",
            "      EvaluationPeriod: 1\n",
            1,
        )
    });
    let error = deploy_failure(&moto, "typo", &typo, &parameters).await;
    assert!(
        error.contains("MigrationFailedAlarm") && error.contains("EvaluationPeriod"),
        "{error}"
    );
}

/// A dry run requested on the stack's own bus runs through what the stack created: the
/// execution the rule starts is the stack's state machine's, its preflight task invokes the
/// stack's preflight function (CloudFormation's name, served by cargo lambda watch as the
/// binary its `zonehop:binary` tag names), and that function runs with the environment the
/// stack gave it (read back from moto; only AWS's endpoint and dummy credentials added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_requested_on_the_stacks_bus_runs_the_stacks_preflight_with_its_environment() {
    let lambda_port = zonehop_world::lambda::free_port();
    let moto = Moto::start_with(&[
        "--lambda-endpoint",
        &format!("http://127.0.0.1:{lambda_port}"),
    ])
    .await;
    // Loopback only: the functions' resolver is nobody's (the stack's default is 1.1.1.1).
    let mut parameters = required_parameters(&MEMBERS, EXTERNAL_ID);
    parameters.push(("Resolver".to_owned(), "127.0.0.1".to_owned()));
    let deployment = deploy(
        &moto.endpoint(),
        &template(),
        "zonehop",
        &parameters,
        &MEMBERS,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let preflight = &deployment["functions"]["preflight"];
    let mut env: Vec<(&str, String)> = preflight["environment"]
        .as_object()
        .expect("environment")
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    env.extend([
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "AKIAZONEHOPLAMBDA000".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]);
    let log = std::env::temp_dir().join(format!(
        "zonehop-deployment-dry-run-{}.log",
        std::process::id()
    ));
    let _watch = zonehop_world::lambda::LambdaWatch::try_start_on(&env, &log, lambda_port)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let config = moto.config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let machine = deployment["outputs"]["StateMachineArn"]
        .as_str()
        .expect("StateMachineArn");
    let member = |account: &str| json!({"roleArn": format!("arn:aws:iam::{account}:role/zonehop"), "externalId": EXTERNAL_ID});
    let mut source = member("111111111111");
    source["hostedZoneId"] = json!("Z0000000000000000NONE");
    let request = json!({
        "domain": "example.com",
        "source": source,
        "target": member("222222222222"),
        "keepInSource": [],
        "probe": {"resolvers": ["127.0.0.1"]},
        "resolver": "127.0.0.1",
        "dryRun": true
    });
    let sent = events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name("zonehop-requests")
                .source("zonehop")
                .detail_type("Migration Requested")
                .detail(request.to_string())
                .build(),
        )
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(sent.failed_entry_count, 0);
    let sfn = zonehop_world::stepfunctions::StepFunctions::new(moto.port());
    let started = aws_sdk_sfn::Client::new(&config)
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("ListExecutions")
        .executions;
    assert_eq!(started.len(), 1, "{started:?}");
    let arn = started[0].execution_arn().to_owned();
    let execution = sfn
        .wait_for_end(&arn, std::time::Duration::from_secs(900))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let history = execution.history_text();
    let details: String = execution
        .history
        .iter()
        .map(|e| format!("{} {}\n", e.event_type, e.details))
        .collect();

    // The preflight task invoked the stack's function, and the function itself answered
    // (its result, or an errorType of its own: not Lambda's "no such function" or a
    // service error from a forward that found no binary).
    let function_arn = preflight["arn"].as_str().expect("arn");
    assert!(details.contains(function_arn), "{details}");
    for not_run in [
        "Lambda.ServiceException",
        "ResourceNotFound",
        "Runtime.ExitError",
    ] {
        assert!(!details.contains(not_run), "{not_run}: {details}");
    }
    let logs = std::fs::read_to_string(&log).expect("functions log");
    let name = arn.rsplit(':').next().expect("name");
    let ran: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"step\":\"preflight\"") && l.contains(name))
        .collect();
    assert!(
        ran.iter().any(|l| l.contains("step started")),
        "preflight logged nothing for {name}:\n{logs}"
    );
    eprintln!("{} {:?}\n{history}", execution.status, execution.error);
    let _ = std::fs::remove_file(&log);
}
