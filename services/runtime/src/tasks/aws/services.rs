//! The AWS services Quickstep calls: how each is named in a resource ARN, in an error, in
//! the endpoint environment variables, and which wire protocol it speaks. AWS's names are
//! data here, in one table, so no other module spells a service.

/// How a service's API is carried over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1: `POST /`, `X-Amz-Target: TARGET.Action`, the request as JSON.
    Json {
        /// `1.0` or `1.1` (`application/x-amz-json-VERSION`).
        version: &'static str,
        /// The `X-Amz-Target` prefix, e.g. `DynamoDB_20120810`.
        target: &'static str,
    },
    /// AWS query: a form `Action=…&Version=…&…`, answered in XML (SNS, STS).
    Query {
        /// The API version sent as `Version`.
        version: &'static str,
    },
    /// REST with XML bodies (S3).
    RestXml,
    /// REST with JSON bodies (Lambda).
    RestJson,
}

/// One AWS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The name in `arn:aws:states:::aws-sdk:NAME:action` and in `[tasks.aws.endpoints]`.
    pub sdk_name: &'static str,
    /// The SDK integration's error prefix (`DynamoDb.ConditionalCheckFailedException`).
    pub sdk_errors: &'static str,
    /// The optimised integration's error prefix (`DynamoDB.ConditionalCheckFailedException`),
    /// for the services that have one.
    pub optimized_errors: Option<&'static str>,
    /// The SigV4 signing name.
    pub signing_name: &'static str,
    /// The host prefix of the default endpoint (`https://PREFIX.REGION.amazonaws.com`).
    pub endpoint_prefix: &'static str,
    /// The service id in `AWS_ENDPOINT_URL_<ID>` (the SDKs' spelling: spaces → `_`).
    pub env_id: &'static str,
    /// The wire protocol.
    pub protocol: Protocol,
    /// Whether the API spells its members in camelCase (Step Functions' own API): Step
    /// Functions passes PascalCase and returns PascalCase, so names are converted.
    pub camel_case: bool,
}

pub const DYNAMODB: Service = Service {
    sdk_name: "dynamodb",
    sdk_errors: "DynamoDb",
    optimized_errors: Some("DynamoDB"),
    signing_name: "dynamodb",
    endpoint_prefix: "dynamodb",
    env_id: "DYNAMODB",
    protocol: Protocol::Json {
        version: "1.0",
        target: "DynamoDB_20120810",
    },
    camel_case: false,
};

pub const SQS: Service = Service {
    sdk_name: "sqs",
    sdk_errors: "Sqs",
    optimized_errors: Some("SQS"),
    signing_name: "sqs",
    endpoint_prefix: "sqs",
    env_id: "SQS",
    protocol: Protocol::Json {
        version: "1.0",
        target: "AmazonSQS",
    },
    camel_case: false,
};

pub const SNS: Service = Service {
    sdk_name: "sns",
    sdk_errors: "Sns",
    optimized_errors: Some("SNS"),
    signing_name: "sns",
    endpoint_prefix: "sns",
    env_id: "SNS",
    protocol: Protocol::Query {
        version: "2010-03-31",
    },
    camel_case: false,
};

pub const EVENTBRIDGE: Service = Service {
    sdk_name: "eventbridge",
    sdk_errors: "EventBridge",
    optimized_errors: Some("EventBridge"),
    signing_name: "events",
    endpoint_prefix: "events",
    env_id: "EVENTBRIDGE",
    protocol: Protocol::Json {
        version: "1.1",
        target: "AWSEvents",
    },
    camel_case: false,
};

pub const SFN: Service = Service {
    sdk_name: "sfn",
    sdk_errors: "Sfn",
    optimized_errors: Some("StepFunctions"),
    signing_name: "states",
    endpoint_prefix: "states",
    env_id: "SFN",
    protocol: Protocol::Json {
        version: "1.0",
        target: "AWSStepFunctions",
    },
    camel_case: true,
};

pub const S3: Service = Service {
    sdk_name: "s3",
    sdk_errors: "S3",
    optimized_errors: None,
    signing_name: "s3",
    endpoint_prefix: "s3",
    env_id: "S3",
    protocol: Protocol::RestXml,
    camel_case: false,
};

pub const SECRETS_MANAGER: Service = Service {
    sdk_name: "secretsmanager",
    sdk_errors: "SecretsManager",
    optimized_errors: None,
    signing_name: "secretsmanager",
    endpoint_prefix: "secretsmanager",
    env_id: "SECRETS_MANAGER",
    protocol: Protocol::Json {
        version: "1.1",
        target: "secretsmanager",
    },
    camel_case: false,
};

pub const SSM: Service = Service {
    sdk_name: "ssm",
    sdk_errors: "Ssm",
    optimized_errors: None,
    signing_name: "ssm",
    endpoint_prefix: "ssm",
    env_id: "SSM",
    protocol: Protocol::Json {
        version: "1.1",
        target: "AmazonSSM",
    },
    camel_case: false,
};

pub const KMS: Service = Service {
    sdk_name: "kms",
    sdk_errors: "Kms",
    optimized_errors: None,
    signing_name: "kms",
    endpoint_prefix: "kms",
    env_id: "KMS",
    protocol: Protocol::Json {
        version: "1.1",
        target: "TrentService",
    },
    camel_case: false,
};

pub const LAMBDA: Service = Service {
    sdk_name: "lambda",
    sdk_errors: "Lambda",
    optimized_errors: None,
    signing_name: "lambda",
    endpoint_prefix: "lambda",
    env_id: "LAMBDA",
    protocol: Protocol::RestJson,
    camel_case: false,
};

/// STS: not a task target, the web-identity credential source's.
pub const STS: Service = Service {
    sdk_name: "sts",
    sdk_errors: "Sts",
    optimized_errors: None,
    signing_name: "sts",
    endpoint_prefix: "sts",
    env_id: "STS",
    protocol: Protocol::Query {
        version: "2011-06-15",
    },
    camel_case: false,
};

/// Every service a task may call through `aws-sdk:`.
pub const SDK_SERVICES: &[Service] = &[
    DYNAMODB,
    SQS,
    SNS,
    EVENTBRIDGE,
    S3,
    SECRETS_MANAGER,
    SSM,
    KMS,
    SFN,
    LAMBDA,
];

/// The services `[tasks.aws.endpoints]` may name.
pub fn by_name(name: &str) -> Option<Service> {
    SDK_SERVICES
        .iter()
        .chain(std::iter::once(&STS))
        .find(|s| s.sdk_name == name)
        .copied()
}

/// An optimised integration: `arn:aws:states:::SERVICE:ACTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optimized {
    /// The resource.
    pub resource: &'static str,
    /// The service it calls.
    pub service: Service,
    /// The API action (PascalCase, as on the wire).
    pub action: &'static str,
}

/// The optimised integrations Quickstep offers (request-response only).
pub const OPTIMIZED: &[Optimized] = &[
    Optimized {
        resource: "arn:aws:states:::dynamodb:getItem",
        service: DYNAMODB,
        action: "GetItem",
    },
    Optimized {
        resource: "arn:aws:states:::dynamodb:putItem",
        service: DYNAMODB,
        action: "PutItem",
    },
    Optimized {
        resource: "arn:aws:states:::dynamodb:updateItem",
        service: DYNAMODB,
        action: "UpdateItem",
    },
    Optimized {
        resource: "arn:aws:states:::dynamodb:deleteItem",
        service: DYNAMODB,
        action: "DeleteItem",
    },
    Optimized {
        resource: "arn:aws:states:::sqs:sendMessage",
        service: SQS,
        action: "SendMessage",
    },
    Optimized {
        resource: "arn:aws:states:::sns:publish",
        service: SNS,
        action: "Publish",
    },
    Optimized {
        resource: "arn:aws:states:::events:putEvents",
        service: EVENTBRIDGE,
        action: "PutEvents",
    },
    Optimized {
        resource: "arn:aws:states:::states:startExecution",
        service: SFN,
        action: "StartExecution",
    },
];

/// The SDK integrations' resource prefix.
pub const SDK_PREFIX: &str = "arn:aws:states:::aws-sdk:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for service in SDK_SERVICES {
            assert_eq!(by_name(service.sdk_name), Some(*service));
        }
        assert_eq!(by_name("sts"), Some(STS));
        assert_eq!(by_name("DynamoDB"), None, "ARN names are lowercase");
        let mut names: Vec<_> = SDK_SERVICES.iter().map(|s| s.sdk_name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SDK_SERVICES.len());
    }
}
