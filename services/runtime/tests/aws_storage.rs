//! S3 (rest-xml), Secrets Manager, SSM Parameter Store and KMS through `aws-sdk:` against
//! moto: results as the SDK models them and missing things named `Service.CodeException`.

mod common;
mod moto;

use asl::Status;
use common::{call, ok};
use moto::Moto;
use serde_json::json;

#[tokio::test]
async fn s3_put_get_list_and_a_missing_key() {
    let Some(moto) = Moto::start() else { return };
    // The bucket is made outside Quickstep (createBucket is not one of its S3 actions).
    let made = reqwest::Client::new()
        .put(format!("{}/reports", moto.endpoint()))
        .send()
        .await
        .expect("moto answers");
    assert!(made.status().is_success(), "{made:?}");
    let tasks = moto.integrations();
    let put = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:putObject",
        json!({"Bucket": "reports", "Key": "2026/12/a b.json", "Body": {"total": 3},
               "ContentType": "application/json", "Metadata": {"Owner": "ops"}}),
    )
    .await;
    assert!(
        put["ETag"].as_str().is_some_and(|e| e.starts_with('"')),
        "{put}"
    );
    let got = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:getObject",
        json!({"Bucket": "reports", "Key": "2026/12/a b.json"}),
    )
    .await;
    assert_eq!(got["Body"], "{\"total\":3}", "{got}");
    assert_eq!(got["ContentLength"], 11, "{got}");
    assert_eq!(got["ContentType"], "application/json");
    assert_eq!(got["ETag"], put["ETag"]);
    assert_eq!(got["Metadata"], json!({"owner": "ops"}), "{got}");
    let listed = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        json!({"Bucket": "reports", "Prefix": "2026/"}),
    )
    .await;
    assert_eq!(listed["KeyCount"], 1, "{listed}");
    assert_eq!(listed["Contents"][0]["Key"], "2026/12/a b.json", "{listed}");
    assert_eq!(listed["Contents"][0]["Size"], 11, "{listed}");
    assert_eq!(listed["IsTruncated"], false);

    let missing = call(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:getObject",
        json!({"Bucket": "reports", "Key": "nope"}),
    )
    .await;
    assert_eq!(missing.status, Status::Failed);
    // S3's code is NoSuchKey; Step Functions adds the Exception suffix.
    assert_eq!(
        missing.error.as_deref(),
        Some("S3.NoSuchKeyException"),
        "{missing:?}"
    );
    let no_bucket = call(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        json!({"Bucket": "absent"}),
    )
    .await;
    assert_eq!(no_bucket.error.as_deref(), Some("S3.NoSuchBucketException"));
    let unsupported = call(
        &tasks,
        "arn:aws:states:::aws-sdk:s3:deleteBucket",
        json!({"Bucket": "reports"}),
    )
    .await;
    assert_eq!(unsupported.error.as_deref(), Some("States.TaskFailed"));
    assert!(
        unsupported
            .cause
            .as_deref()
            .unwrap()
            .contains("getObject, putObject, listObjectsV2"),
        "{unsupported:?}"
    );
}

#[tokio::test]
async fn secrets_parameters_and_keys() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    ok(
        &tasks,
        "arn:aws:states:::aws-sdk:secretsmanager:createSecret",
        json!({"Name": "db", "SecretString": "s3cr3t"}),
    )
    .await;
    let secret = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
        json!({"SecretId": "db"}),
    )
    .await;
    assert_eq!(secret["SecretString"], "s3cr3t", "{secret}");
    assert_eq!(secret["Name"], "db");
    let missing = call(
        &tasks,
        "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
        json!({"SecretId": "nope"}),
    )
    .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("SecretsManager.ResourceNotFoundException"),
        "{missing:?}"
    );

    ok(
        &tasks,
        "arn:aws:states:::aws-sdk:ssm:putParameter",
        json!({"Name": "/app/limit", "Value": "42", "Type": "String"}),
    )
    .await;
    let parameter = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:ssm:getParameter",
        json!({"Name": "/app/limit"}),
    )
    .await;
    assert_eq!(parameter["Parameter"]["Value"], "42", "{parameter}");
    let missing = call(
        &tasks,
        "arn:aws:states:::aws-sdk:ssm:getParameter",
        json!({"Name": "/app/none"}),
    )
    .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("Ssm.ParameterNotFoundException"),
        "{missing:?}"
    );

    let key = ok(&tasks, "arn:aws:states:::aws-sdk:kms:createKey", json!({})).await;
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_owned();
    let encrypted = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:kms:encrypt",
        json!({"KeyId": key_id, "Plaintext": "aGVsbG8="}),
    )
    .await;
    let decrypted = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:kms:decrypt",
        json!({"CiphertextBlob": encrypted["CiphertextBlob"]}),
    )
    .await;
    assert_eq!(decrypted["Plaintext"], "aGVsbG8=", "{decrypted}");
    let missing = call(
        &tasks,
        "arn:aws:states:::aws-sdk:kms:describeKey",
        json!({"KeyId": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("Kms.NotFoundException"),
        "{missing:?}"
    );
}
