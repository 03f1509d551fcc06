//! Every intrinsic function: parsing calls, evaluating them, and AWS's error messages.

use super::*;
use crate::error::ErrorName;
use serde_json::json;

/// Resolves a path by its text from a small table; random bits count up from a seed.
struct TestEnv {
    paths: Vec<(&'static str, Value)>,
    next: u64,
}

impl IntrinsicEnv for TestEnv {
    fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
        self.paths
            .iter()
            .find(|(text, _)| *text == path.as_str())
            .map(|(_, value)| value.clone())
            .ok_or_else(|| StatesError::new(ErrorName::ParameterPathFailure, path.as_str()))
    }
    fn random_u64(&mut self) -> u64 {
        self.next = self
            .next
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.next
    }
}

/// A `TestEnv` that also lends the values it finds (`lookup`), as the engine's env does.
struct Lending(TestEnv);

impl IntrinsicEnv for Lending {
    fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
        self.0.resolve(path)
    }
    fn random_u64(&mut self) -> u64 {
        self.0.random_u64()
    }
    fn lookup(&self, path: &Path) -> Option<&Value> {
        self.0
            .paths
            .iter()
            .find(|(text, _)| *text == path.as_str())
            .map(|(_, value)| value)
    }
}

#[test]
fn format_reads_lent_values_as_it_reads_resolved_ones() {
    let paths = vec![
        ("$.name", json!("Arnav")),
        ("$.n", json!(-3)),
        ("$.obj", json!({"a": [1, true]})),
    ];
    for text in [
        "States.Format('{} is {} and {}', $.name, $.n, $.obj)",
        "States.Format('{}{}', States.Format('<{}>', $.n), $.name)",
        "States.Format('{}: {}', States.UUID(), $.name)",
    ] {
        let resolved = run(
            text,
            &mut TestEnv {
                paths: paths.clone(),
                next: 1,
            },
        );
        let mut lending = Lending(TestEnv {
            paths: paths.clone(),
            next: 1,
        });
        let lent = Call::parse(text).expect("parses").eval(&mut lending);
        assert_eq!(lent.expect("lent"), resolved.expect("resolved"), "{text}");
    }
    // A path neither finds fails as `resolve` says, after the values before it.
    let mut lending = Lending(TestEnv { paths, next: 1 });
    let error = Call::parse("States.Format('{} {}', $.name, $.gone)")
        .expect("parses")
        .eval(&mut lending)
        .expect_err("$.gone is missing");
    assert_eq!(error.cause.as_deref(), Some("$.gone"));
}

fn env() -> TestEnv {
    TestEnv {
        paths: vec![],
        next: 1,
    }
}

fn run(text: &str, env: &mut TestEnv) -> Result<Value, StatesError> {
    let call = Call::parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"));
    call.eval(env)
}

fn ok(text: &str, expected: Value) {
    assert_eq!(
        run(text, &mut env()).unwrap_or_else(|e| panic!("{text}: {e}")),
        expected,
        "{text}"
    );
}

/// Evaluation fails with `States.IntrinsicFailure`; returns the cause.
fn fails(text: &str) -> String {
    let error = run(text, &mut env()).expect_err(text);
    assert_eq!(error.name, ErrorName::IntrinsicFailure, "{text}: {error}");
    let cause = error.cause.expect("a cause");
    let name = Call::parse(text).unwrap().name().to_owned();
    assert!(
        cause.contains(&name),
        "{text}: the cause '{cause}' should name {name}"
    );
    cause
}

fn fails_with(text: &str, needle: &str) {
    let cause = fails(text);
    assert!(
        cause.contains(needle),
        "{text}: '{cause}' should mention '{needle}'"
    );
}

fn bad_parse(text: &str) -> String {
    match Call::parse(text) {
        Ok(call) => panic!("{text} should not parse, got {call:?}"),
        Err(e) => e.message,
    }
}

fn bad_parse_with(text: &str, needle: &str) {
    let message = bad_parse(text);
    assert!(
        message.contains(needle),
        "{text}: '{message}' should mention '{needle}'"
    );
}

fn ok_in(text: &str, paths: Vec<(&'static str, Value)>, expected: Value) {
    let mut env = TestEnv { paths, next: 1 };
    assert_eq!(
        run(text, &mut env).unwrap_or_else(|e| panic!("{text}: {e}")),
        expected,
        "{text}"
    );
}

fn nest(depth: usize) -> String {
    format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth))
}

#[test]
fn array() {
    ok("States.Array()", json!([]));
    ok(
        "States.Array(1, 'a', true, false, null, -2.5)",
        json!([1, "a", true, false, null, -2.5]),
    );
    ok(
        "States.Array(States.Array(1), States.Array())",
        json!([[1], []]),
    );
    ok("States.Array(  1 ,\t2\n)", json!([1, 2]));
    ok("  States.Array(1)  ", json!([1]));
    ok(
        "States.Array(1e2, 0, -0, -7, 12345678901234)",
        json!([100.0, 0, -0.0, -7, 12345678901234i64]),
    );
}

#[test]
fn array_contains() {
    ok(
        "States.ArrayContains(States.Array(1, 2, 3), 2)",
        json!(true),
    );
    ok(
        "States.ArrayContains(States.Array(1, 2, 3), 4)",
        json!(false),
    );
    ok("States.ArrayContains(States.Array('a'), 'a')", json!(true));
    ok("States.ArrayContains(States.Array(1.0), 1)", json!(true));
    ok(
        "States.ArrayContains(States.Array(States.Array(1, 2)), States.Array(1, 2))",
        json!(true),
    );
    ok(
        "States.ArrayContains(States.Array(States.Array(1, 2)), States.Array(2, 1))",
        json!(false),
    );
    ok("States.ArrayContains(States.Array(), null)", json!(false));
    ok(
        "States.ArrayContains(States.Array(null), null)",
        json!(true),
    );
    ok("States.ArrayContains(States.Array(1), '1')", json!(false));
    fails_with("States.ArrayContains('abc', 'a')", "array");
    bad_parse_with("States.ArrayContains(States.Array(1))", "2");
}

#[test]
fn array_get_item() {
    ok("States.ArrayGetItem(States.Array(1, 2, 3), 0)", json!(1));
    ok("States.ArrayGetItem(States.Array(1, 2, 3), 2)", json!(3));
    ok(
        "States.ArrayGetItem(States.Array(1, States.Array('x')), 1)",
        json!(["x"]),
    );
    ok("States.ArrayGetItem(States.Array(1, 2), 1.0)", json!(2));
    fails_with(
        "States.ArrayGetItem(States.Array(1, 2, 3), 3)",
        "out of bounds",
    );
    fails_with(
        "States.ArrayGetItem(States.Array(1, 2, 3), -1)",
        "out of bounds",
    );
    fails_with("States.ArrayGetItem(States.Array(), 0)", "out of bounds");
    fails_with("States.ArrayGetItem(States.Array(1), 0.5)", "integer");
    fails_with("States.ArrayGetItem(States.Array(1), '0')", "integer");
    fails_with("States.ArrayGetItem('abc', 0)", "array");
}

#[test]
fn array_length() {
    ok("States.ArrayLength(States.Array())", json!(0));
    ok("States.ArrayLength(States.Array(1, 2, 3))", json!(3));
    ok(
        "States.ArrayLength(States.ArrayRange(1, 1000, 1))",
        json!(1000),
    );
    fails_with("States.ArrayLength('abc')", "must be an array, not string");
    fails_with("States.ArrayLength(null)", "must be an array, not null");
    bad_parse_with("States.ArrayLength()", "takes 1 argument");
    bad_parse_with("States.ArrayLength(States.Array(), 1)", "given 2");
}

#[test]
fn array_partition() {
    ok(
        "States.ArrayPartition(States.Array(1,2,3,4,5,6,7,8,9), 4)",
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
    );
    ok(
        "States.ArrayPartition(States.Array(1, 2), 2)",
        json!([[1, 2]]),
    );
    ok(
        "States.ArrayPartition(States.Array(1, 2), 5)",
        json!([[1, 2]]),
    );
    ok("States.ArrayPartition(States.Array(), 3)", json!([]));
    // Non-integer chunk sizes round to the nearest integer (the AWS page).
    ok(
        "States.ArrayPartition(States.Array(1, 2, 3), 1.5)",
        json!([[1, 2], [3]]),
    );
    ok(
        "States.ArrayPartition(States.Array(1, 2, 3), 1.4)",
        json!([[1], [2], [3]]),
    );
    ok(
        "States.ArrayPartition(States.Array(1, 2), 9223372036854775807)",
        json!([[1, 2]]),
    );
    fails_with("States.ArrayPartition(States.Array(1, 2), 0)", "positive");
    fails_with("States.ArrayPartition(States.Array(1, 2), -1)", "positive");
    fails_with("States.ArrayPartition(States.Array(1, 2), 0.4)", "positive");
    fails_with("States.ArrayPartition(States.Array(1, 2), 'x')", "integer");
    fails_with("States.ArrayPartition('12', 1)", "array");
}

#[test]
fn array_range() {
    ok("States.ArrayRange(1, 9, 2)", json!([1, 3, 5, 7, 9]));
    ok("States.ArrayRange(1, 10, 2)", json!([1, 3, 5, 7, 9]));
    ok("States.ArrayRange(5, 5, 1)", json!([5]));
    ok("States.ArrayRange(5, 1, -2)", json!([5, 3, 1]));
    ok("States.ArrayRange(5, 1, 1)", json!([]));
    ok("States.ArrayRange(-3, 0, 1)", json!([-3, -2, -1, 0]));
    ok("States.ArrayRange(1.4, 2.5, 1)", json!([1, 2, 3]));
    ok(
        "States.ArrayRange(-9223372036854775808, 9223372036854775807, 9223372036854775807)",
        json!([i64::MIN, -1, i64::MAX - 1]),
    );
    ok(
        "States.ArrayRange(0, 999, 1)",
        Value::Array((0..1000).map(Value::from).collect()),
    );
    fails_with("States.ArrayRange(0, 1000, 1)", "1001 items");
    fails_with("States.ArrayRange(1, 5000, 1)", "more than the 1000");
    fails_with(
        "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
        "more than",
    );
    fails_with("States.ArrayRange(1, 5, 0)", "zero");
    fails_with("States.ArrayRange(1, 5, 0.4)", "zero");
    fails_with("States.ArrayRange('1', 5, 1)", "integer");
    fails_with("States.ArrayRange(1, 1e300, 1)", "integer");
    bad_parse_with(
        "States.ArrayRange(1, 5)",
        "takes 3 argument(s), but was given 2",
    );
}

#[test]
fn array_unique() {
    ok(
        "States.ArrayUnique(States.Array(1,2,3,3,3,3,3,3,4))",
        json!([1, 2, 3, 4]),
    );
    ok(
        "States.ArrayUnique(States.Array(3, 1, 3, 2, 1))",
        json!([3, 1, 2]),
    );
    ok(
        "States.ArrayUnique(States.Array('1', 1, 1.0, null, null))",
        json!(["1", 1, null]),
    );
    ok(
        "States.ArrayUnique(States.Array(States.Array(1), States.Array(1), States.Array(2)))",
        json!([[1], [2]]),
    );
    ok("States.ArrayUnique(States.Array())", json!([]));
    fails_with("States.ArrayUnique(1)", "array");
}

#[test]
fn base64_decode() {
    ok(
        "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
        json!("Data to encode"),
    );
    ok("States.Base64Decode('')", json!(""));
    ok("States.Base64Decode('aMOp')", json!("hé"));
    ok(
        "States.Base64Decode(States.Base64Encode('round \\{trip\\}'))",
        json!("round {trip}"),
    );
    fails_with("States.Base64Decode('not base64!')", "Base64");
    fails_with("States.Base64Decode('//8=')", "UTF-8");
    fails_with("States.Base64Decode(1)", "string");
    let long = format!("States.Base64Decode('{}')", "A".repeat(10_004));
    fails_with(&long, "10000");
}

#[test]
fn base64_encode() {
    ok(
        "States.Base64Encode('Data to encode')",
        json!("RGF0YSB0byBlbmNvZGU="),
    );
    ok("States.Base64Encode('')", json!(""));
    ok("States.Base64Encode('hé')", json!("aMOp"));
    ok(
        &format!("States.Base64Encode('{}')", "a".repeat(10_000)),
        json!("YWFh".repeat(3333) + "YQ=="),
    );
    fails_with(
        &format!("States.Base64Encode('{}')", "a".repeat(10_001)),
        "10001 characters",
    );
    fails_with("States.Base64Encode(States.Array())", "string");
    fails_with("States.Base64Encode(null)", "string");
}

#[test]
fn format() {
    ok(
        "States.Format('Hello, my name is {}.', 'Arnav')",
        json!("Hello, my name is Arnav."),
    );
    ok("States.Format('no placeholders')", json!("no placeholders"));
    ok("States.Format('{}{}', 1, 2)", json!("12"));
    ok(
        "States.Format('{} {} {} {}', 3, -1.5, true, null)",
        json!("3 -1.5 true null"),
    );
    ok("States.Format('{}', 1e2)", json!("100.0"));
    // Objects and arrays render as Java's Map/List toString; strings inside stay unquoted.
    ok(
        "States.Format('x={}', States.JsonMerge(States.StringToJson('{\"Arg1\": 1}'), States.StringToJson('{\"Arg2\": []}'), false))",
        json!("x={Arg1=1, Arg2=[]}"),
    );
    ok(
        "States.Format('{}', States.Array('a', 1, States.Array(), null))",
        json!("[a, 1, [], null]"),
    );
    ok(
        "States.Format('{}', States.StringToJson('{\"b\":{\"c\":\"d\"},\"a\":[1,2]}'))",
        json!("{b={c=d}, a=[1, 2]}"),
    );
    // Escaped braces are text, not placeholders (the AWS page, "Reserved characters").
    ok("States.Format('\\{\\} and {}', 'x')", json!("{} and x"));
    ok("States.Format('\\{}')", json!("{}"));
    ok("States.Format('it\\'s {}', 'me')", json!("it's me"));
    ok("States.Format('a\\\\b{}', 1)", json!("a\\b1"));
    ok(
        "States.Format('{}', States.Format('{}-{}', 'a', 'b'))",
        json!("a-b"),
    );
    ok("States.Format('{ {}', 1)", json!("{ 1"));
    bad_parse_with("States.Format('{}')", "1 placeholder(s) but 0");
    bad_parse_with("States.Format('{}', 1, 2)", "1 placeholder(s) but 2");
    bad_parse_with("States.Format(1)", "must be a string");
    bad_parse_with("States.Format()", "at least 1");
    // A template that is computed is checked when it is known.
    fails_with(
        "States.Format(States.Format('\\{\\}'))",
        "1 placeholder(s) but 0",
    );
    fails_with("States.Format(States.Array(), 1)", "string");
}

#[test]
fn hash() {
    // The AWS page's SHA-1 example drops a digit ("…d18d7485e…"); this is the real digest.
    ok(
        "States.Hash('input data', 'SHA-1')",
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
    );
    ok(
        "States.Hash('input data', 'MD5')",
        json!("812f45842bc6d66ee14572ce20db8e86"),
    );
    ok(
        "States.Hash('input data', 'SHA-256')",
        json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    );
    ok(
        "States.Hash('input data', 'SHA-384')",
        json!("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"),
    );
    ok(
        "States.Hash('input data', 'SHA-512')",
        json!("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"),
    );
    ok(
        "States.Hash('', 'SHA-256')",
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    );
    ok(
        "States.Hash('héllo', 'MD5')",
        json!("be50e8478cf24ff3595bc7307fb91b50"),
    );
    fails_with("States.Hash('x', 'sha-1')", "unknown algorithm 'sha-1'");
    fails_with("States.Hash('x', 'SHA-224')", "unknown algorithm");
    fails_with("States.Hash(1, 'MD5')", "string");
    fails_with("States.Hash('x', 5)", "string");
    fails_with(
        &format!("States.Hash('{}', 'MD5')", "z".repeat(10_001)),
        "10000",
    );
    // Java counts UTF-16 units: 5,001 emoji are 10,002 "characters".
    fails_with(
        &format!("States.Hash('{}', 'MD5')", "😀".repeat(5_001)),
        "10002 characters",
    );
    assert!(run(
        &format!("States.Hash('{}', 'MD5')", "😀".repeat(5_000)),
        &mut env()
    )
    .is_ok());
}

#[test]
fn json_merge() {
    ok(
        "States.JsonMerge(States.StringToJson('{\"a\": {\"a1\": 1, \"a2\": 2}, \"b\": 2}'), States.StringToJson('{\"a\": {\"a3\": 1, \"a4\": 2}, \"c\": 3}'), false)",
        json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}),
    );
    ok("States.JsonToString(States.JsonMerge(States.StringToJson('{\"z\":1,\"a\":2}'), States.StringToJson('{\"m\":3,\"z\":4}'), false))", json!("{\"z\":4,\"a\":2,\"m\":3}"));
    fails_with(
        "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), true)",
        "deep merging",
    );
    fails_with(
        "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), 'false')",
        "boolean false",
    );
    fails_with(
        "States.JsonMerge(States.Array(), States.StringToJson('{}'), false)",
        "JSON objects",
    );
    fails_with(
        "States.JsonMerge(States.StringToJson('{}'), 1, false)",
        "JSON objects",
    );
    bad_parse_with(
        "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'))",
        "takes 3",
    );
}

#[test]
fn json_to_string() {
    ok(
        "States.JsonToString(States.StringToJson('{ \"foo\" : \"bar\", \"a\": [1, 2.5] }'))",
        json!("{\"foo\":\"bar\",\"a\":[1,2.5]}"),
    );
    ok(
        "States.JsonToString(States.StringToJson('{\"b\":1,\"a\":2}'))",
        json!("{\"b\":1,\"a\":2}"),
    );
    ok("States.JsonToString('x\"y')", json!("\"x\\\"y\""));
    ok("States.JsonToString(3)", json!("3"));
    ok("States.JsonToString(null)", json!("null"));
}

#[test]
fn math_add() {
    ok("States.MathAdd(111, -1)", json!(110));
    ok("States.MathAdd(1, 2)", json!(3));
    ok("States.MathAdd(-5, -7)", json!(-12));
    // Non-integers round to the nearest integer, halves towards +∞ as Java's Math.round.
    ok("States.MathAdd(1.5, 0)", json!(2));
    ok("States.MathAdd(-1.5, 0)", json!(-1));
    ok("States.MathAdd(1.2, -2.5)", json!(-1));
    ok(
        "States.MathAdd(2147483647, 2147483647)",
        json!(4294967294i64),
    );
    ok("States.MathAdd(-2147483648, 0)", json!(-2147483648i64));
    ok(
        "States.MathAdd(States.MathAdd(1, 2), States.ArrayLength(States.Array(1)))",
        json!(4),
    );
    fails_with("States.MathAdd(2147483648, 0)", "outside the range");
    fails_with("States.MathAdd(0, -2147483649)", "outside the range");
    fails_with("States.MathAdd('1', 2)", "integer");
    fails_with("States.MathAdd(null, 2)", "integer");
    bad_parse_with(
        "States.MathAdd(1)",
        "States.MathAdd takes 2 argument(s), but was given 1",
    );
}

#[test]
fn math_random() {
    for _ in 0..5 {
        let mut env = env();
        for _ in 0..200 {
            let n = run("States.MathRandom(1, 4)", &mut env)
                .unwrap()
                .as_i64()
                .unwrap();
            assert!((1..4).contains(&n), "{n}");
        }
    }
    // All three values turn up, so the end really is exclusive and the range used.
    let mut env = env();
    let mut seen: Vec<i64> = (0..300)
        .map(|_| {
            run("States.MathRandom(-1, 2)", &mut env)
                .unwrap()
                .as_i64()
                .unwrap()
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, vec![-1, 0, 1]);
    ok("States.MathRandom(5, 6)", json!(5));
    // Seeded: start + new java.util.Random(seed).nextInt(end - start), values from a JVM.
    ok("States.MathRandom(0, 10, 42)", json!(0));
    ok("States.MathRandom(1, 999, 7)", json!(853));
    ok("States.MathRandom(0, 16, -5)", json!(4));
    ok("States.MathRandom(0, 1000000, 123456789)", json!(10965));
    ok("States.MathRandom(0.6, 10.4, 42.2)", json!(9));
    let wide = run(
        "States.MathRandom(-9223372036854775808, 9223372036854775807, 1)",
        &mut env,
    )
    .unwrap();
    assert!(wide.is_i64());
    fails_with("States.MathRandom(5, 5)", "less than");
    fails_with("States.MathRandom(6, 5)", "less than");
    fails_with("States.MathRandom('a', 5)", "integer");
    fails_with("States.MathRandom(1, 5, 'seed')", "seed");
    bad_parse_with("States.MathRandom(1)", "2 to 3");
    bad_parse_with("States.MathRandom(1, 2, 3, 4)", "2 to 3");
}

#[test]
fn string_split() {
    ok(
        "States.StringSplit('1,2,3,4,5', ',')",
        json!(["1", "2", "3", "4", "5"]),
    );
    ok(
        "States.StringSplit('This.is+a,test=string', '.+,=')",
        json!(["This", "is", "a", "test", "string"]),
    );
    ok("States.StringSplit(',,a,,b,', ',')", json!(["a", "b"]));
    ok("States.StringSplit('', ',')", json!([]));
    ok("States.StringSplit('abc', '')", json!(["abc"]));
    ok(
        "States.StringSplit('a b\\\\c', ' \\\\')",
        json!(["a", "b", "c"]),
    );
    ok(
        "States.StringSplit('héllo wörld', 'ö')",
        json!(["héllo w", "rld"]),
    );
    fails_with("States.StringSplit(1, ',')", "string");
    fails_with("States.StringSplit('a', States.Array())", "string");
}

#[test]
fn string_to_json() {
    ok(
        "States.StringToJson('{\"foo\": \"bar\"}')",
        json!({"foo": "bar"}),
    );
    ok(
        "States.StringToJson('[1, 2.5, null]')",
        json!([1, 2.5, null]),
    );
    ok("States.StringToJson('\"s\"')", json!("s"));
    ok("States.StringToJson('  ')", json!(null));
    ok(
        "States.StringToJson(States.JsonToString(States.Array(1, 'a')))",
        json!([1, "a"]),
    );
    fails_with("States.StringToJson('{not json')", "not valid JSON");
    fails_with("States.StringToJson('1 2')", "not valid JSON");
    fails_with("States.StringToJson(1)", "string");
}

#[test]
fn uuid() {
    let mut env = env();
    let first = run("States.UUID()", &mut env).unwrap();
    let second = run("States.UUID()", &mut env).unwrap();
    assert_ne!(first, second);
    for value in [first, second] {
        let text = value.as_str().unwrap();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12],
            "{text}"
        );
        assert!(
            text.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{text}"
        );
        assert!(groups[2].starts_with('4'), "{text}");
        assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "{text}");
    }
    // All-ones bits still give a well-formed v4 UUID.
    struct Ones;
    impl IntrinsicEnv for Ones {
        fn resolve(&self, _: &Path) -> Result<Value, StatesError> {
            unreachable!()
        }
        fn random_u64(&mut self) -> u64 {
            u64::MAX
        }
    }
    assert_eq!(
        Call::parse("States.UUID()")
            .unwrap()
            .eval(&mut Ones)
            .unwrap(),
        json!("ffffffff-ffff-4fff-bfff-ffffffffffff")
    );
    bad_parse_with("States.UUID(1)", "takes 0");
}

#[test]
fn parse_errors() {
    bad_parse_with("States.Nope()", "unknown intrinsic function 'States.Nope'");
    bad_parse_with("States.array()", "'States.array'");
    bad_parse_with("States.Array(", "unexpected end");
    bad_parse_with("States.Array(1", "expected ',' or ')'");
    bad_parse_with("States.Array(1,)", "expected a string");
    bad_parse_with("States.Array(,1)", "expected a string");
    bad_parse_with("States.Array(1) x", "after the call");
    bad_parse_with("States.Array", "expected '('");
    bad_parse_with("States.Array('abc)", "unterminated");
    bad_parse_with("States.Array('a\\nb')", "open escape backslash");
    bad_parse_with("States.Array('a\\')", "unterminated");
    bad_parse_with("States.Array('a\\ b')", "open escape backslash");
    bad_parse_with("States.Array(truex)", "expected a string");
    bad_parse_with("States.Array(01)", "invalid number");
    bad_parse_with("States.Array(1.)", "invalid number");
    bad_parse_with("States.Array(--1)", "invalid number");
    bad_parse_with("States.Array(\"x\")", "expected a string");
    bad_parse_with("", "unknown intrinsic function ''");
    bad_parse_with("$.a", "unknown intrinsic function");
    bad_parse_with("States.Array(States.Nope())", "'States.Nope'");
    bad_parse_with("States.Array(States.MathAdd(1))", "States.MathAdd takes 2");
}

#[test]
fn parse_limits() {
    ok(&nest(10), json!([[[[[[[[[[1]]]]]]]]]]));
    bad_parse_with(&nest(11), "deeper than 10");
    // Hostile nesting fails fast without overflowing the stack.
    bad_parse_with(&nest(100_000), "deeper than 10");
    bad_parse_with(&"States.Array(".repeat(100_000), "deeper than 10");
    // The AWS page's nine-call example parses.
    let arn = "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit('arn:aws:imagebuilder:r:a:image/recipe/1.2.3', '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit('arn:aws:imagebuilder:r:a:image/recipe/1.2.3', '/'), 2), '.'), 1), 'z')";
    ok(arn, json!("1.2.z"));
    let long = format!("States.StringSplit('{}', ',')", "ab,".repeat(100_000));
    assert_eq!(
        run(&long, &mut env()).unwrap().as_array().unwrap().len(),
        100_000
    );
    for text in [
        "States.Array('\u{0}')",
        "States.Array(1e999999)",
        "States.Array(-)",
        "States.Array(1e)",
        "States.\u{1F600}()",
        "States.Array($",
        "States.Array($[')",
    ] {
        let _ = Call::parse(text);
    }
}

#[test]
fn escapes() {
    ok(
        "States.Array('\\'', '\\{', '\\}', '\\\\')",
        json!(["'", "{", "}", "\\"]),
    );
    ok(
        "States.Array('unescaped {} stays')",
        json!(["unescaped {} stays"]),
    );
    ok("States.Array('a, b)', 'c')", json!(["a, b)", "c"]));
    ok("States.Array('héllo 😀')", json!(["héllo 😀"]));
    ok("States.Array('')", json!([""]));
}

#[test]
fn paths() {
    let input = vec![
        ("$.name", json!("Arnav")),
        ("$.template", json!("Hello, my name is {}.")),
        ("$['a,b']", json!([1, 2])),
        ("$.items[?(@.x == 1)]", json!(["f"])),
        ("$$.Execution.Id", json!("exec")),
        ("$count", json!(41)),
        ("$.obj", json!({"Arg1": 1, "Arg2": []})),
    ];
    ok_in(
        "States.Format('Hello, my name is {}.', $.name)",
        input.clone(),
        json!("Hello, my name is Arnav."),
    );
    ok_in(
        "States.Format($.template, $.name)",
        input.clone(),
        json!("Hello, my name is Arnav."),
    );
    ok_in(
        "States.Format('{}', $.obj)",
        input.clone(),
        json!("{Arg1=1, Arg2=[]}"),
    );
    ok_in(
        "States.Array($['a,b'], $.items[?(@.x == 1)] , $$.Execution.Id)",
        input.clone(),
        json!([[1, 2], ["f"], "exec"]),
    );
    ok_in("States.MathAdd($count, 1)", input.clone(), json!(42));
    ok_in(
        "States.JsonToString($.obj)",
        input.clone(),
        json!("{\"Arg1\":1,\"Arg2\":[]}"),
    );
    let mut env = TestEnv {
        paths: input.clone(),
        next: 1,
    };
    let error = run("States.Format($.template)", &mut env).unwrap_err();
    assert_eq!(error.name, ErrorName::IntrinsicFailure);
    // A path that selects nothing raises what the environment raises, not an intrinsic failure.
    let error = run("States.Array($.missing)", &mut env).unwrap_err();
    assert_eq!(error.name, ErrorName::ParameterPathFailure);
    let call = Call::parse("States.Array($.name)").unwrap();
    assert!(matches!(&call.args()[0], Arg::Path(p) if p.as_str() == "$.name"));
}
