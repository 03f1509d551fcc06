use super::*;

#[test]
fn resources_become_targets() {
    assert!(matches!(
        target("arn:aws:states:::dynamodb:putItem"),
        Some(Ok(Target::Optimized(o))) if o.action == "PutItem"
    ));
    assert_eq!(
        target("arn:aws:states:::aws-sdk:s3:listObjectsV2"),
        Some(Ok(Target::Sdk(services::S3, "ListObjectsV2".into())))
    );
    assert!(target("arn:aws:states:::http:invoke").is_none());
    assert!(
        matches!(target("arn:aws:states:::aws-sdk:nope:x"), Some(Err(e)) if e.contains("nope"))
    );
    assert!(matches!(
        target("arn:aws:states:::aws-sdk:sqs:send-message"),
        Some(Err(_))
    ));
    assert!(is_aws("arn:aws:states:::aws-sdk:ec2:describeInstances"));
    assert!(!is_aws("arn:aws:states:::lambda:invoke"));
}

#[test]
fn optimised_integrations_send_json_as_text() {
    let parameters = optimized_parameters(
        "PutEvents",
        &json!({"Entries": [{"Detail": {"a": 1}}, {"Detail": "already"}]}),
    );
    assert_eq!(parameters["Entries"][0]["Detail"], "{\"a\":1}");
    assert_eq!(parameters["Entries"][1]["Detail"], "already");
    let parameters = optimized_parameters("SendMessage", &json!({"MessageBody": [1]}));
    assert_eq!(parameters["MessageBody"], "[1]");
    let untouched = json!({"Item": {"a": {"S": "b"}}});
    assert_eq!(optimized_parameters("PutItem", &untouched), untouched);
}

#[test]
fn error_names_per_kind_of_integration() {
    let fault = protocol::ServiceFault {
        code: "NoSuchKey".into(),
        message: "m".into(),
    };
    let headers = reqwest::header::HeaderMap::new();
    let sdk = Naming::new(&services::S3, false).service_error(&fault, 404, &headers);
    assert_eq!(sdk.name.to_string(), "S3.NoSuchKeyException");
    let fault = protocol::ServiceFault {
        code: "ConditionalCheckFailedException".into(),
        message: "m".into(),
    };
    let optimized = Naming::new(&services::DYNAMODB, true).service_error(&fault, 400, &headers);
    assert_eq!(
        optimized.name.to_string(),
        "DynamoDB.ConditionalCheckFailedException"
    );
    let sdk = Naming::new(&services::DYNAMODB, false).service_error(&fault, 400, &headers);
    assert_eq!(
        sdk.name.to_string(),
        "DynamoDb.ConditionalCheckFailedException"
    );
}
