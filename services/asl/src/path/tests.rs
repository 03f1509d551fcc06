//! JSONPath parsing, evaluation, filters, reference-path writes and their messages.

use super::evaluate::SMALL_OBJECT;
use super::*;
use serde_json::{json, Map};

#[test]
fn fields_are_found_in_small_and_large_objects_alike() {
    for size in [1, SMALL_OBJECT, SMALL_OBJECT + 1, 40] {
        let mut object: Map<String, Value> =
            (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
        let last = format!("k{}", size - 1);
        assert_eq!(field(&object, &last), Some(&json!(size - 1)), "size {size}");
        assert_eq!(
            field(&object, "k"),
            None,
            "a prefix is not a name (size {size})"
        );
        let path = Path::parse(&format!("$.{last}")).expect("valid");
        let whole = Value::Object(object.clone());
        assert_eq!(path.select(&whole).unwrap().as_ref(), &json!(size - 1));
        *field_mut(&mut object, "k0").expect("present") = json!("new");
        let mut value = Value::Object(object);
        Path::parse("$.k0.deep")
            .expect("valid")
            .assign(&mut value, json!(true))
            .expect_err("k0 is a string now");
        Path::parse("$.fresh.deep")
            .expect("valid")
            .assign(&mut value, json!(true))
            .expect("a missing member is created");
        assert_eq!(value["fresh"]["deep"], json!(true));
        assert_eq!(value["k0"], json!("new"));
    }
}

#[test]
fn lookup_answers_for_chains_of_names_and_indexes_only() {
    let input = json!({"a": {"b": [10, 20]}, "c": 1});
    let found = |path: &str| Path::parse(path).expect("valid").lookup(&input).cloned();
    assert_eq!(found("$"), Some(input.clone()));
    assert_eq!(found("$.a.b[1]"), Some(json!(20)));
    assert_eq!(found("$['a']['b'][-1]"), Some(json!(20)));
    assert_eq!(found("$.a.x"), None);
    assert_eq!(found("$.c[0]"), None);
    // Not chains: `select` answers these.
    for path in [
        "$.a.b[*]",
        "$..c",
        "$.a.b.length()",
        "$['a','c']",
        "$.a.b[0:1]",
    ] {
        assert_eq!(found(path), None, "{path}");
        assert!(
            Path::parse(path).expect("valid").select(&input).is_ok(),
            "{path}"
        );
    }
}

#[track_caller]
fn sel(path: &str, input: Value, expected: Value) {
    let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // `lookup`, where it answers, answers as `select` does.
    if let Some(found) = parsed.lookup(&input) {
        assert_eq!(found, &expected, "{path}: lookup");
    }
    match parsed.select(&input) {
        Ok(got) => assert_eq!(got.into_owned(), expected, "{path}"),
        Err(m) => panic!("{path}: {}", m.message()),
    }
}

#[track_caller]
fn missing(path: &str, input: Value, message: &str) {
    let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        parsed.lookup(&input),
        None,
        "{path}: lookup finds nothing either"
    );
    match parsed.select(&input) {
        Ok(got) => panic!("{path}: expected missing, got {got}"),
        Err(m) => assert_eq!(m.message(), message, "{path}"),
    }
}

#[track_caller]
fn bad(path: &str, reason: &str) {
    match Path::parse(path) {
        Ok(p) => panic!("expected an error, parsed {:.200}", format!("{p:?}")),
        Err(e) => {
            assert_eq!(e.text, path);
            assert!(
                e.reason.contains(reason),
                "{path}: reason was '{}'",
                e.reason
            );
        }
    }
}

#[track_caller]
fn definite(path: &str, expected: bool) {
    assert_eq!(Path::parse(path).unwrap().is_definite(), expected, "{path}");
}

#[track_caller]
fn render(path: &str, expected: &str) {
    assert_eq!(
        Path::parse(path).unwrap().render_jayway(),
        expected,
        "{path}"
    );
}

#[track_caller]
fn root(path: &str, expected: Root) {
    assert_eq!(Path::parse(path).unwrap().root(), &expected, "{path}");
}

#[track_caller]
fn assign(path: &str, mut target: Value, value: Value, expected: Value) {
    let parsed = Path::parse(path).unwrap();
    parsed
        .assign(&mut target, value)
        .unwrap_or_else(|m| panic!("{path}: {}", m.message()));
    assert_eq!(target, expected, "{path}");
}

#[track_caller]
fn assign_err(path: &str, mut target: Value, message: &str) {
    let before = target.clone();
    let parsed = Path::parse(path).unwrap();
    match parsed.assign(&mut target, json!("x")) {
        Ok(()) => panic!("{path}: expected an error, got {target}"),
        Err(m) => assert_eq!(m.message(), message, "{path}"),
    }
    assert_eq!(target, before, "{path}: a failed assign changed the target");
}

fn store() -> Value {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Rees", "title": "Sayings", "price": 8.95},
                {"category": "fiction", "author": "Waugh", "title": "Sword", "price": 12.99},
                {"category": "fiction", "author": "Melville", "title": "Moby", "isbn": "0-553", "price": 8.99},
                {"category": "fiction", "author": "Tolkien", "title": "Lord", "isbn": "0-395", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "expensive": 10
    })
}

// Roots.

#[test]
fn roots() {
    root("$", Root::Input);
    root("$.a", Root::Input);
    root("$$", Root::Context);
    root("$$.Execution.Id", Root::Context);
    root("$myVar", Root::Variable("myVar".into()));
    root("$my_var2.field[0]", Root::Variable("my_var2".into()));
    root("$_x", Root::Variable("_x".into()));
    bad("a.b", "must start with '$'");
    bad("", "must start with '$'");
    bad("@.a", "must start with '$'");
    bad("$1abc", "unexpected character '1'");
    bad("$$x", "unexpected character 'x'");
    bad("$-", "unexpected character '-'");
}

#[test]
fn variable_paths_select_from_the_given_value() {
    sel("$myVar", json!({"a": 1}), json!({"a": 1}));
    sel("$myVar.field[0]", json!({"field": [7, 8]}), json!(7));
    sel(
        "$$.Execution.Id",
        json!({"Execution": {"Id": "x"}}),
        json!("x"),
    );
    render("$myVar.field[0]", "$myVar['field'][0]");
    render("$$.Execution.Id", "$$['Execution']['Id']");
}

// Dot and bracket names.

#[test]
fn dot_names() {
    sel("$", json!({"a": 1}), json!({"a": 1}));
    sel("$.a", json!({"a": 1}), json!(1));
    sel("$.a.b.c", json!({"a": {"b": {"c": [1]}}}), json!([1]));
    sel("$.a-b", json!({"a-b": 1}), json!(1));
    sel("$.my_field", json!({"my_field": 2}), json!(2));
    sel("$.1abc", json!({"1abc": 3}), json!(3));
    sel("$.a:b", json!({"a:b": 4}), json!(4));
    sel("$.é", json!({"é": 5}), json!(5));
    sel("$.a$b", json!({"a$b": 6}), json!(6));
    sel("$.a.null", json!({"a": {"null": 7}}), json!(7));
    sel("$.a", json!({"a": null}), json!(null));
    sel("  $.a  ", json!({"a": 1}), json!(1));
}

#[test]
fn bracket_names() {
    sel("$['a']", json!({"a": 1}), json!(1));
    sel("$[\"a\"]", json!({"a": 1}), json!(1));
    sel("$['a b']", json!({"a b": 1}), json!(1));
    sel("$['a.b']", json!({"a.b": 1, "a": {"b": 2}}), json!(1));
    sel("$['a]b']", json!({"a]b": 1}), json!(1));
    sel("$['it\\'s']", json!({"it's": 1}), json!(1));
    sel("$[\"say \\\"hi\\\"\"]", json!({"say \"hi\"": 1}), json!(1));
    // Other backslashes are kept, as AWS keeps them.
    sel("$['tab\\there']", json!({"tab\\there": 1}), json!(1));
    sel(
        "$['Test\\\"\"Name\"']",
        json!({"Test\\\"\"Name\"": 1}),
        json!(1),
    );
    sel("$['']", json!({"": 9}), json!(9));
    sel("$[ 'a' ]", json!({"a": 1}), json!(1));
    sel("$.['a']", json!({"a": 1}), json!(1));
    sel("$['a'].b['c']", json!({"a": {"b": {"c": 3}}}), json!(3));
    render("$['a b'].c", "$['a b']['c']");
}

// Indexes, negative indexes, slices, unions.

#[test]
fn indexes() {
    let input = json!({"items": [10, 20, 30]});
    sel("$.items[0]", input.clone(), json!(10));
    sel("$.items[2]", input.clone(), json!(30));
    sel("$.items[-1]", input.clone(), json!(30));
    sel("$.items[-3]", input.clone(), json!(10));
    sel("$.items[ 1 ]", input.clone(), json!(20));
    sel("$[0][1]", json!([[1, 2]]), json!(2));
    missing(
        "$.items[3]",
        input.clone(),
        "No results for path: $['items'][3]",
    );
    missing(
        "$.items[10]",
        input.clone(),
        "No results for path: $['items'][10]",
    );
    missing(
        "$.items[-4]",
        input.clone(),
        "No results for path: $['items'][-4]",
    );
    missing(
        "$.items[0]",
        json!({"items": {"0": 1}}),
        "No results for path: $['items'][0]",
    );
    missing(
        "$.items[0].x",
        json!({"items": []}),
        "No results for path: $['items'][0]['x']",
    );
}

#[test]
fn slices_follow_jayway() {
    let input = json!({"a": [0, 1, 2, 3, 4]});
    sel("$.a[1:3]", input.clone(), json!([1, 2]));
    sel("$.a[1:]", input.clone(), json!([1, 2, 3, 4]));
    sel("$.a[:2]", input.clone(), json!([0, 1]));
    sel("$.a[-2:]", input.clone(), json!([3, 4]));
    sel("$.a[:-2]", input.clone(), json!([0, 1, 2]));
    sel("$.a[-10:]", input.clone(), json!([0, 1, 2, 3, 4]));
    sel("$.a[:10]", input.clone(), json!([0, 1, 2, 3, 4]));
    sel("$.a[3:100]", input.clone(), json!([3, 4]));
    sel("$.a[5:]", input.clone(), json!([]));
    sel("$.a[3:1]", input.clone(), json!([]));
    sel("$.a[:-10]", input.clone(), json!([]));
    // Jayway leaves a negative end unresolved in [a:b] …
    sel("$.a[0:-1]", input.clone(), json!([]));
    // … and walks a negative start around the end.
    sel("$.a[-2:1]", input.clone(), json!([3, 4, 0]));
    sel(
        "$.a[-99999999999:1]",
        input.clone(),
        json!([0, 1, 2, 3, 4, 0]),
    );
    sel("$.a[1:3]", json!({"a": []}), json!([]));
    sel("$.a[1:3]", json!({"a": "str"}), json!([]));
    sel("$.item.items[1:5].itemValue", json!({}), json!([]));
    sel(
        "$.items[1:3].v",
        json!({"items": [{"v": 1}, {"v": 2}, {}, {"v": 4}]}),
        json!([2]),
    );
}

#[test]
fn unions() {
    let input = json!({"a": [0, 1, 2, 3]});
    sel("$.a[0,2]", input.clone(), json!([0, 2]));
    sel("$.a[3, 0, -1]", input.clone(), json!([3, 0, 3]));
    sel("$.a[1,9]", input.clone(), json!([1]));
    let obj = json!({"a": 1, "b": 2, "c": 3});
    // A last-step property union is merged into one object, as Jayway does.
    sel("$['a','c']", obj.clone(), json!({"a": 1, "c": 3}));
    sel("$['c', \"a\"]", obj.clone(), json!({"c": 3, "a": 1}));
    sel("$['a','zz']", obj.clone(), json!({"a": 1}));
    sel("$['y','zz']", obj, json!({}));
    missing(
        "$.x['a','b']",
        json!({"x": 1}),
        "No results for path: $['x']['a','b']",
    );
    // Not last: each property is followed in turn.
    sel(
        "$['a','b'].v",
        json!({"a": {"v": 1}, "b": {"v": 2}}),
        json!([1, 2]),
    );
    sel(
        "$[*]['n','m']",
        json!([{"n": 1, "m": 2, "o": 3}, {"n": 4}, 5]),
        json!([{"n": 1, "m": 2}, {"n": 4}]),
    );
    render("$['a','b']", "$['a','b']");
    render("$[0,1]", "$[0,1]");
}

// Wildcards and deep scan.

#[test]
fn wildcards() {
    sel("$.*", json!({"a": 1, "b": [2]}), json!([1, [2]]));
    sel("$[*]", json!([1, 2, 3]), json!([1, 2, 3]));
    sel(
        "$.a[*].b",
        json!({"a": [{"b": 1}, {"c": 2}, {"b": 3}]}),
        json!([1, 3]),
    );
    sel(
        "$.a.*.b",
        json!({"a": {"x": {"b": 1}, "y": {"b": 2}}}),
        json!([1, 2]),
    );
    sel("$.a[*]", json!({"a": 5}), json!([]));
    sel("$.nothing[*]", json!({}), json!([]));
    sel("$[ * ]", json!([1]), json!([1]));
    sel("$.*x", json!({"*x": 1}), json!(1));
    render("$.a.*", "$['a'][*]");
}

#[test]
fn deep_scan() {
    sel(
        "$..author",
        store(),
        json!(["Rees", "Waugh", "Melville", "Tolkien"]),
    );
    sel(
        "$..price",
        store(),
        json!([8.95, 12.99, 8.99, 22.99, 19.95]),
    );
    sel(
        "$.store..price",
        store(),
        json!([8.95, 12.99, 8.99, 22.99, 19.95]),
    );
    sel("$..book[2].title", store(), json!(["Moby"]));
    sel("$..book[-1].title", store(), json!(["Lord"]));
    sel("$..['color']", store(), json!(["red"]));
    sel("$..a", json!({"a": {"a": 1}}), json!([{"a": 1}, 1]));
    // Pre-order: a node's own children, then each child's subtree.
    sel(
        "$..*",
        json!({"a": {"b": 1}, "c": 2}),
        json!([{"b": 1}, 2, 1]),
    );
    sel("$..[*]", json!([[1], 2]), json!([[1], 2, 1]));
    sel("$..[0]", json!({"x": [[1, 2], 3]}), json!([[1, 2], 1]));
    sel("$..nope", store(), json!([]));
    sel("$..x", json!(3), json!([]));
    render("$..author", "$..['author']");
    render("$..*", "$..[*]");
}

#[test]
fn deep_scan_of_a_deep_document_does_not_overflow() {
    let mut value = json!({"leaf": 1});
    for _ in 0..100_000 {
        // Not `json!`, which would re-serialize (recursively) the value it wraps.
        let mut map = Map::new();
        map.insert("n".into(), value);
        value = Value::Object(map);
    }
    let found = Path::parse("$..leaf")
        .unwrap()
        .select(&value)
        .map(Cow::into_owned);
    assert_eq!(found, Ok(json!([1])));
    // serde_json drops recursively; unwind it by hand so the test itself cannot overflow.
    let mut current = value;
    while let Value::Object(mut map) = current {
        current = map.remove("n").unwrap_or(Value::Null);
    }
}

// Filters.

#[test]
fn filters_on_numbers() {
    sel(
        "$.store.book[?(@.price < 10)].title",
        store(),
        json!(["Sayings", "Moby"]),
    );
    sel(
        "$.store.book[?(@.price <= 8.95)].title",
        store(),
        json!(["Sayings"]),
    );
    sel(
        "$.store.book[?(@.price > 20)].title",
        store(),
        json!(["Lord"]),
    );
    sel(
        "$.store.book[?(@.price >= 12.99)].title",
        store(),
        json!(["Sword", "Lord"]),
    );
    sel(
        "$.store.book[?(@.price == 12.99)].title",
        store(),
        json!(["Sword"]),
    );
    sel(
        "$.store.book[?(@.price != 12.99)].title",
        store(),
        json!(["Sayings", "Moby", "Lord"]),
    );
    sel(
        "$.store.book[?(@.price > $.expensive)].title",
        store(),
        json!(["Sword", "Lord"]),
    );
    sel(
        "$[?(@.n == 1.0)]",
        json!([{"n": 1}, {"n": 2}]),
        json!([{"n": 1}]),
    );
    sel(
        "$[?(@.n == -2)]",
        json!([{"n": 1}, {"n": -2}]),
        json!([{"n": -2}]),
    );
    sel(
        "$[?(@.n > 1e1)]",
        json!([{"n": 11}, {"n": 2}]),
        json!([{"n": 11}]),
    );
    sel("$[?(@ > 2)]", json!([1, 2, 3, 4]), json!([3, 4]));
    sel(
        "$[?(@.n < 5)]",
        json!([{"n": "1"}, {"n": 3}]),
        json!([{"n": 3}]),
    );
    // Jayway coerces number and string for equality only.
    sel(
        "$[?(@.n == 1)]",
        json!([{"n": "1"}, {"n": "x"}]),
        json!([{"n": "1"}]),
    );
}

#[test]
fn filters_on_strings_booleans_null() {
    sel(
        "$.store.book[?(@.category == 'reference')].author",
        store(),
        json!(["Rees"]),
    );
    sel(
        "$.store.book[?(@.category == \"fiction\")].author",
        store(),
        json!(["Waugh", "Melville", "Tolkien"]),
    );
    sel(
        "$.store.book[?(@.author > 'T')].author",
        store(),
        json!(["Waugh", "Tolkien"]),
    );
    sel(
        "$[?(@.ok == true)].id",
        json!([{"id": 1, "ok": true}, {"id": 2, "ok": false}]),
        json!([1]),
    );
    sel(
        "$[?(@.ok == false)].id",
        json!([{"id": 1, "ok": true}, {"id": 2, "ok": false}]),
        json!([2]),
    );
    sel(
        "$[?(@.v == null)].id",
        json!([{"id": 1, "v": null}, {"id": 2}, {"id": 3, "v": 0}]),
        json!([1]),
    );
    sel(
        "$[?(@.v == 'it\\'s')]",
        json!([{"v": "it's"}, {"v": "its"}]),
        json!([{"v": "it's"}]),
    );
    bad("$[?(@.t == [1])]", "expected a value");
}

#[test]
fn filters_existence_and_logic() {
    sel(
        "$.store.book[?(@.isbn)].title",
        store(),
        json!(["Moby", "Lord"]),
    );
    sel(
        "$.store.book[?(!@.isbn)].title",
        store(),
        json!(["Sayings", "Sword"]),
    );
    sel(
        "$[?(@.v)].id",
        json!([{"id": 1, "v": false}, {"id": 2}, {"id": 3, "v": null}]),
        json!([1, 3]),
    );
    sel(
        "$.store.book[?(@.isbn && @.price < 10)].title",
        store(),
        json!(["Moby"]),
    );
    sel(
        "$.store.book[?(@.price < 9 || @.price > 20)].title",
        store(),
        json!(["Sayings", "Moby", "Lord"]),
    );
    sel(
        "$.store.book[?((@.price < 9 || @.price > 20) && @.isbn)].title",
        store(),
        json!(["Moby", "Lord"]),
    );
    sel(
        "$.store.book[?(@.price<9&&@.category=='fiction')].title",
        store(),
        json!(["Moby"]),
    );
    sel(
        "$.store.book[?(!(@.price < 10))].title",
        store(),
        json!(["Sword", "Lord"]),
    );
    // A missing operand equals nothing, so != holds, as in Jayway.
    sel(
        "$[?(@.v != 1)].id",
        json!([{"id": 1, "v": 1}, {"id": 2}]),
        json!([2]),
    );
    sel(
        "$[?(@.v < 1)].id",
        json!([{"id": 1, "v": 0}, {"id": 2}]),
        json!([1]),
    );
    sel(
        "$[?(@.a.b == 1)].id",
        json!([{"id": 1, "a": {"b": 1}}, {"id": 2, "a": 3}]),
        json!([1]),
    );
    sel(
        "$[?(@['x y'] == 1)].id",
        json!([{"id": 1, "x y": 1}]),
        json!([1]),
    );
    sel(
        "$[?(@.tags[0] == 'a')].id",
        json!([{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]),
        json!([1]),
    );
    sel(
        "$[?(@.tags.length() > 1)].id",
        json!([{"id": 1, "tags": [1, 2]}, {"id": 2, "tags": [1]}]),
        json!([1]),
    );
    sel(
        "$[?(@.tags[?(@ == 2)])].id",
        json!([{"id": 1, "tags": [1, 2]}, {"id": 2, "tags": [1]}]),
        json!([1]),
    );
    sel(
        "$[?(@.x[*])].id",
        json!([{"id": 1, "x": [1]}, {"id": 2, "x": []}]),
        json!([1]),
    );
}

#[test]
fn filters_on_objects_and_scans() {
    sel(
        "$.a[?(@.b == 1)]",
        json!({"a": {"b": 1}}),
        json!([{"b": 1}]),
    );
    sel("$.a[?(@.b == 2)]", json!({"a": {"b": 1}}), json!([]));
    sel("$.a[?(@.b == 1)]", json!({"a": 3}), json!([]));
    sel("$..[?(@.price > 20)].title", store(), json!(["Lord"]));
    sel("$..book[?(@.price > 20)].title", store(), json!(["Lord"]));
    render("$.a[?(@.b == 1)].c", "$['a'][?]['c']");
}

// Functions.

#[test]
fn functions() {
    sel("$.items.length()", json!({"items": [1, 2, 3]}), json!(3));
    sel("$.length()", json!([]), json!(0));
    sel("$.o.length()", json!({"o": {"a": 1, "b": 2}}), json!(2));
    sel("$.s.length()", json!({"s": "abc"}), json!(null));
    sel("$.a[*].length()", json!({"a": [1, 2]}), json!(2));
    sel("$..price.length()", store(), json!(5));
    sel("$.a.sum()", json!({"a": [1, 2, 3]}), json!(6.0));
    sel("$.a.avg()", json!({"a": [1, 2, 3]}), json!(2.0));
    sel("$.a.min()", json!({"a": [3, 1, 2]}), json!(1.0));
    sel("$.a.max()", json!({"a": [3, 1, "9"]}), json!(3.0));
    sel(
        "$.a.stddev()",
        json!({"a": [2, 4, 4, 4, 5, 5, 7, 9]}),
        json!(2.0),
    );
    sel(
        "$.o.keys()",
        json!({"o": {"x": 1, "y": 2}}),
        json!(["x", "y"]),
    );
    sel("$.a.first()", json!({"a": [1, 2]}), json!(1));
    sel("$.a.last()", json!({"a": [1, 2]}), json!(2));
    sel("$.a.length( )", json!({"a": [1]}), json!(1));
    missing(
        "$.a.sum()",
        json!({"a": []}),
        "No results for path: $['a'].sum()",
    );
    missing("$.a.length()", json!({}), "Missing property in path $['a']");
    definite("$.a.length()", true);
    definite("$.a[*].length()", false);
    render("$.a.length()", "$['a'].length()");
    bad("$.a.length().b", "last step");
    bad("$.a.length()[0]", "last step");
    bad("$.a.nope()", "unknown function 'nope()'");
    bad("$.a.concat('x')", "unknown function");
    bad("$.a.length(1)", "arguments are not supported");
    bad("$.a.length(", "unbalanced parenthesis");
    bad("$..length()", "cannot follow '..'");
    bad("$.(", "empty name");
}

// Definite vs indefinite, borrowing.

#[test]
fn definiteness() {
    definite("$", true);
    definite("$.a.b", true);
    definite("$['a'][0][-1]", true);
}

#[test]
fn indefiniteness() {
    for path in [
        "$.*",
        "$[*]",
        "$..a",
        "$.a[1:2]",
        "$.a[:2]",
        "$[?(@.a)]",
        "$[0,1]",
        "$['a','b'].c",
        "$.a[*].b",
    ] {
        definite(path, false);
    }
    definite("$['a','b']", true);
}

#[test]
fn definite_hits_borrow_and_indefinite_results_are_owned() {
    let input = json!({"a": {"b": [1, {"c": "x"}]}});
    let path = Path::parse("$.a.b[1].c").unwrap();
    match path.select(&input).unwrap() {
        Cow::Borrowed(v) => assert!(std::ptr::eq(v, &input["a"]["b"][1]["c"])),
        Cow::Owned(v) => panic!("cloned {v}"),
    }
    let root = Path::parse("$").unwrap();
    assert!(matches!(root.select(&input).unwrap(), Cow::Borrowed(v) if std::ptr::eq(v, &input)));
    let wild = Path::parse("$.a.b[*]").unwrap();
    assert!(
        matches!(wild.select(&input).unwrap(), Cow::Owned(Value::Array(ref a)) if a.len() == 2)
    );
}

// Missing: the Jayway messages AWS shows.

#[test]
fn missing_messages() {
    missing(
        "$.NoSuchInputPath",
        json!({}),
        "No results for path: $['NoSuchInputPath']",
    );
    missing(
        "$.no.such.result.path",
        json!({}),
        "Missing property in path $['no']",
    );
    missing(
        "$.a.no.such",
        json!({"a": {}}),
        "Missing property in path $['a']['no']",
    );
    missing(
        "$.a[0].b.c",
        json!({"a": [{}]}),
        "Missing property in path $['a'][0]['b']",
    );
    missing(
        "$.a[5].b",
        json!({"a": [{}]}),
        "No results for path: $['a'][5]['b']",
    );
    missing(
        "$.a.b",
        json!({"a": "text"}),
        "No results for path: $['a']['b']",
    );
    missing(
        "$.a.b.c",
        json!({"a": 1}),
        "Missing property in path $['a']['b']",
    );
    missing("$.a", json!([1]), "No results for path: $['a']");
    missing("$['x y']", json!({}), "No results for path: $['x y']");
    missing("$$.Nope", json!({}), "No results for path: $$['Nope']");
    let m = Path::parse("$.no.such")
        .unwrap()
        .select(&json!({}))
        .unwrap_err();
    assert_eq!(
        m,
        Missing {
            at: "$['no']".into(),
            missing_property: true
        }
    );
    assert_eq!(m.to_string(), m.message());
    let m = Path::parse("$.a").unwrap().select(&json!({})).unwrap_err();
    assert_eq!(
        m,
        Missing {
            at: "$['a']".into(),
            missing_property: false
        }
    );
}

// Rendering.

#[test]
fn renders_jayway_form() {
    render("$", "$");
    render("$.a.b[0]", "$['a']['b'][0]");
    render("$['a']['b'][0]", "$['a']['b'][0]");
    render("$.a[-1]", "$['a'][-1]");
    render("$.a[1:3]", "$['a'][1:3]");
    render("$.a[1:]", "$['a'][1:]");
    render("$.a[:3]", "$['a'][:3]");
    render("$[*].x", "$[*]['x']");
    assert_eq!(
        Path::parse("$.a .b".trim_end()).err().map(|e| e.text),
        Some("$.a .b".into())
    );
    assert_eq!(Path::parse(" $.a ").unwrap().as_str(), " $.a ");
}

// Assign (ResultPath).

#[test]
fn assign_replaces_and_creates() {
    assign("$", json!({"a": 1}), json!([1]), json!([1]));
    assign("$.r", json!({"a": 1}), json!(2), json!({"a": 1, "r": 2}));
    assign(
        "$.a",
        json!({"a": 1, "b": 2}),
        json!(9),
        json!({"a": 9, "b": 2}),
    );
    assign(
        "$.x.y.z",
        json!({}),
        json!(1),
        json!({"x": {"y": {"z": 1}}}),
    );
    assign(
        "$.x.y",
        json!({"x": {"k": 0}}),
        json!(1),
        json!({"x": {"k": 0, "y": 1}}),
    );
    assign(
        "$.a[1]",
        json!({"a": [0, 0]}),
        json!(5),
        json!({"a": [0, 5]}),
    );
    assign(
        "$.a[-1].b",
        json!({"a": [{}, {}]}),
        json!(5),
        json!({"a": [{}, {"b": 5}]}),
    );
    assign("$['a b']", json!({}), json!(1), json!({"a b": 1}));
    assign(
        "$.a",
        json!({"a": {"deep": [1]}}),
        json!(null),
        json!({"a": null}),
    );
    // Replacing keeps the key's position.
    let mut target = json!({"a": 1, "b": 2, "c": 3});
    Path::parse("$.b")
        .unwrap()
        .assign(&mut target, json!(0))
        .unwrap();
    assert_eq!(
        target.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[test]
fn assign_errors() {
    assign_err(
        "$.a.b",
        json!({"a": "text"}),
        "No results for path: $['a']['b']",
    );
    assign_err(
        "$.a.b.c",
        json!({"a": 5}),
        "Missing property in path $['a']['b']",
    );
    assign_err("$.a", json!("text"), "No results for path: $['a']");
    assign_err("$.a", json!([1]), "No results for path: $['a']");
    assign_err("$[3]", json!([1]), "No results for path: $[3]");
    assign_err("$[0]", json!({"a": 1}), "No results for path: $[0]");
    assign_err(
        "$.a[2]",
        json!({"a": [1]}),
        "No results for path: $['a'][2]",
    );
    assign_err(
        "$.a[0].b",
        json!({"a": []}),
        "Missing property in path $['a'][0]",
    );
    assign_err("$.a[0]", json!({"a": {}}), "No results for path: $['a'][0]");
    assign_err("$.a[0]", json!({}), "No results for path: $['a'][0]");
    assign_err("$.x.y[0]", json!({}), "No results for path: $['x']['y'][0]");
    assign_err(
        "$.ok.x[0].z",
        json!({"ok": 1}),
        "Missing property in path $['ok']['x']",
    );
    assign_err(
        "$.a[*]",
        json!({"a": [1]}),
        "No results for path: $['a'][*]",
    );
    assign_err("$..a", json!({}), "No results for path: $..['a']");
    assign_err(
        "$.a.length()",
        json!({"a": []}),
        "No results for path: $['a'].length()",
    );
    assert!(Path::parse("$.a[0]['b']").unwrap().is_reference());
    assert!(!Path::parse("$['a','b']").unwrap().is_reference());
}

// Parse errors.

#[test]
fn parse_errors() {
    bad("$.a[", "unbalanced bracket");
    bad("$.a[0", "unbalanced bracket");
    bad("$['a'", "unbalanced bracket");
    bad("$['a", "unterminated string");
    bad("$['a',", "unexpected end");
    bad("$['a','b'", "unbalanced bracket");
    bad("$[?(@.a == 1)", "unbalanced bracket");
    bad("$[?(@.a == 1]", "unexpected ']'");
    bad("$[?(@.a == 1", "unbalanced parenthesis");
    bad("$['a']]", "unbalanced bracket");
    bad("$.", "must not end with '.'");
    bad("$.a.", "must not end with '.'");
    bad("$..", "must not end with '..'");
    bad("$...a", "after '..'");
    bad("$['a']x", "unexpected character 'x'");
    bad("$[0]x", "unexpected character 'x'");
    bad("$.a b", "whitespace in a name");
    bad("$[]", "unexpected ']'");
    bad("$[a]", "unexpected character 'a'");
    bad("$[--1]", "expected a number");
    bad("$[1,]", "expected a number");
    bad("$[1 2]", "unexpected character '2'");
    bad("$[:]", "needs a start or an end");
    bad("$[0:4:2]", "slice steps");
    bad("$[99999999999999999999]", "index out of range");
    bad("$[?@.a]", "expected '('");
    bad("$[?()]", "unexpected character ')'");
    bad("$[?(@.a = 1)]", "use '=='");
    bad("$[?(@.a =~ /x/)]", "regular expressions");
    bad("$[?(@.a in [1])]", "unsupported filter operator 'in'");
    bad("$[?(1)]", "expected a comparison operator");
    bad("$[?(@.a == nope)]", "unexpected 'nope'");
    bad("$[?(@.a == $$.x)]", "only '@' and '$'");
    bad("$[?(@.a == )]", "expected a value");
    bad("$[?(@.a == 1 &&)]", "expected a value");
    bad("$[?(@.a == 1e999)]", "invalid number");
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    bad(
        &format!("${}", "[".repeat(10_000)),
        "unexpected character '['",
    );
    bad(
        &format!("$[?({}@.a{})]", "(".repeat(10_000), ")".repeat(10_000)),
        "nested too deeply",
    );
    bad(
        &format!("$[?({}@.a)]", "!".repeat(10_000)),
        "nested too deeply",
    );
    bad(&format!("${}", "[?(@".repeat(10_000)), "nested too deeply");
    bad(
        &format!("$['{}", "a".repeat(100_000)),
        "unterminated string",
    );
    bad(&format!("$.a{}", "]".repeat(5000)), "unbalanced bracket");
    // A long path and long names are fine.
    let name = "n".repeat(100_000);
    sel(&format!("$.{name}"), json!({ name.clone(): 1 }), json!(1));
    let long = "$".to_string() + &".a".repeat(10_000);
    assert_eq!(
        Path::parse(&long).unwrap().render_jayway().len(),
        1 + 5 * 10_000
    );
    missing(
        &long,
        json!({"a": {}}),
        "Missing property in path $['a']['a']",
    );
    // Moderate, legitimate nesting still parses.
    sel("$[?(((@.a == 1)))]", json!([{"a": 1}]), json!([{"a": 1}]));
}

#[test]
fn no_input_panics() {
    // Every prefix of a rich path, and some byte soup, parses or errors without panicking.
    let rich =
        "$..book[?(@.price < 10 && !(@.isbn) || @['x y'] == 'it\\'s')][0,1][1:-1].é.length()";
    for end in (0..=rich.len()).filter(|&i| rich.is_char_boundary(i)) {
        let _ = Path::parse(&rich[..end]).map(|p| p.select(&store()).is_ok());
    }
    for garbage in [
        "$\u{0}",
        "$[\u{7f}]",
        "$['\\",
        "$[?(@.\u{e9}",
        "$[-]",
        "$[?(-)]",
        "$.a(",
        "$é",
        "$[?(@.a == 'x",
    ] {
        let _ = Path::parse(garbage);
    }
}

#[test]
fn parse_prefix_stops_at_delimiters() {
    let (path, used) = Path::parse_prefix("$.a.b, 'x')").unwrap();
    assert_eq!((path.as_str(), used), ("$.a.b", 5));
    let (path, used) = Path::parse_prefix("$$.Execution.Id)").unwrap();
    assert_eq!((path.root(), used), (&Root::Context, 15));
    let (path, used) = Path::parse_prefix("$var[0] ").unwrap();
    assert_eq!((path.root(), used), (&Root::Variable("var".into()), 7));
    assert!(Path::parse_prefix("x").is_err());
}
