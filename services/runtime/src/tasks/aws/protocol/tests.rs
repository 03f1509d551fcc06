use super::*;
use crate::tasks::aws::services::{DYNAMODB, SFN, SNS};

fn form(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

#[test]
fn json_requests_carry_the_target_and_step_functions_speaks_camel_case() {
    let request = build(&DYNAMODB, "PutItem", &json!({"TableName": "t"})).unwrap();
    assert_eq!(
        request.headers[1],
        ("x-amz-target".into(), "DynamoDB_20120810.PutItem".into())
    );
    assert_eq!(request.headers[0].1, "application/x-amz-json-1.0");
    let request = build(
        &SFN,
        "StartExecution",
        &json!({"StateMachineArn": "a", "Input": "{}"}),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&request.body).unwrap(),
        json!({"stateMachineArn": "a", "input": "{}"})
    );
    assert!(build(&DYNAMODB, "PutItem", &json!([1])).is_err());
    assert!(build(&SNS, "Publish", &json!("text")).is_err());
}

#[test]
fn query_requests_flatten_lists_and_maps() {
    let request = build(
        &SNS,
        "Publish",
        &json!({"TopicArn": "arn", "Message": "m",
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
                "Tags": [{"Key": "a", "Value": "b"}], "Attributes": {"x": "y"}}),
    )
    .unwrap();
    let fields = form(&request);
    for expected in [
        ("Action", "Publish"),
        ("Version", "2010-03-31"),
        ("MessageAttributes.entry.1.Name", "k"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "v"),
        ("Tags.member.1.Key", "a"),
        ("Attributes.entry.1.key", "x"),
        ("Attributes.entry.1.value", "y"),
    ] {
        assert!(
            fields.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {fields:?}"
        );
    }
}

#[test]
fn s3_paths_are_encoded_and_parameters_required() {
    let request = build(
        &S3,
        "GetObject",
        &json!({"Bucket": "b", "Key": "a b/c+d.txt"}),
    )
    .unwrap();
    assert_eq!(request.path_and_query, "/b/a%20b/c%2Bd.txt");
    let request = build(
        &S3,
        "ListObjectsV2",
        &json!({"Bucket": "b", "Prefix": "x y", "MaxKeys": 5}),
    )
    .unwrap();
    assert_eq!(
        request.path_and_query,
        "/b?list-type=2&max-keys=5&prefix=x%20y"
    );
    let missing = build(&S3, "GetObject", &json!({"Bucket": "b"})).unwrap_err();
    assert!(missing.0.contains("'Key'"), "{missing:?}");
    let request = build(
        &LAMBDA,
        "Invoke",
        &json!({"FunctionName": "f", "Qualifier": "7"}),
    )
    .unwrap();
    assert_eq!(
        request.path_and_query,
        "/2015-03-31/functions/f/invocations?Qualifier=7"
    );
    assert_eq!(request.body, b"{}");
}

#[test]
fn faults_from_every_protocol() {
    let none = reqwest::header::HeaderMap::new();
    let json_fault = fault(
        400,
        &none,
        br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"m"}"#,
    );
    assert_eq!(json_fault.code, "ConditionalCheckFailedException");
    assert_eq!(json_fault.message, "m");
    let xml_fault = fault(
        404,
        &none,
        b"<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>gone</Message></Error></ErrorResponse>",
    );
    assert_eq!(
        (xml_fault.code.as_str(), xml_fault.message.as_str()),
        ("NotFound", "gone")
    );
    let s3_fault = fault(404, &none, b"<Error><Code>NoSuchKey</Code></Error>");
    assert_eq!(s3_fault.code, "NoSuchKey");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-amzn-errortype",
        "ResourceNotFoundException:http://x/".parse().unwrap(),
    );
    assert_eq!(fault(404, &headers, b"").code, "ResourceNotFoundException");
    let bare = fault(503, &none, b"");
    assert_eq!(bare.code, "InternalFailure");
    assert!(bare.message.contains("503"));
}
