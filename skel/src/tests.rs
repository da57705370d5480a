//! The language as the guide describes it: every command, selector, path and value form,
//! variables, comments, SimKube's documented examples, and errors with their positions.

use serde_json::{json, Value};

use crate::{At, Outcome, Program};

const AT: At = At { ts: 1_700_000_600, start: 1_700_000_000 };

fn run(program: &str, obj: Value) -> (Value, Outcome) {
    run_at(program, obj, AT)
}

fn run_at(program: &str, mut obj: Value, at: At) -> (Value, Outcome) {
    let program = Program::parse(program).unwrap_or_else(|e| panic!("{program}: {e}"));
    let outcome = program.apply(&mut obj, at).unwrap_or_else(|e| panic!("{e}"));
    (obj, outcome)
}

fn parse_error(program: &str) -> String {
    Program::parse(program).map(|p| format!("parsed: {p:?}")).unwrap_or_else(|e| e.to_string())
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web", "simkube.dev/foo": "bar"}},
        "spec": {"replicas": 3, "template": {"spec": {
            "nodeSelector": {"simkube.dev/foo": "bar"},
            "tolerations": [{"key": "k"}],
            "containers": [
                {"name": "app", "image": "registry.example/app:1", "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "B", "value": "b"}]},
                {"name": "side", "image": "registry.example/side:2", "env": [{"name": "C", "value": "c"}]}
            ]}}},
        "status": {"readyReplicas": 3}
    })
}

#[test]
fn remove_with_and_without_a_selector() {
    let (obj, out) = run("remove(status);", deployment());
    assert!(obj.get("status").is_none());
    assert_eq!(out, Outcome { matched: true, changed: true, deleted: false });
    let (obj, _) = run("remove(*, status);", deployment());
    assert!(obj.get("status").is_none());
    // Nothing to remove: matched, not changed.
    let (_, out) = run("remove(spec.nothing);", deployment());
    assert_eq!(out, Outcome { matched: true, changed: false, deleted: false });
}

#[test]
fn delete_drops_the_object_and_stops() {
    let (_, out) = run(r#"delete(metadata.namespace == "demo"); modify(spec.replicas = 1);"#, deployment());
    assert_eq!(out, Outcome { matched: true, changed: true, deleted: true });
    let (obj, out) = run(r#"delete(metadata.namespace == "other");"#, deployment());
    assert_eq!(out, Outcome::default());
    assert_eq!(obj, deployment());
}

#[test]
fn modify_sets_values_of_every_kind() {
    let (obj, _) = run("modify(spec.replicas = 1);", deployment());
    assert_eq!(obj["spec"]["replicas"], 1);
    let (obj, _) = run("modify(spec.paused = TRUE);", deployment());
    assert_eq!(obj["spec"]["paused"], true);
    let (obj, _) = run("modify(spec.paused = False);", deployment());
    assert_eq!(obj["spec"]["paused"], false);
    let (obj, _) = run("modify(spec.ratio = -2.5e1);", deployment());
    assert_eq!(obj["spec"]["ratio"], -25.0);
    let (obj, _) = run(r#"modify(metadata.labels.team = "a \"quoted\" name");"#, deployment());
    assert_eq!(obj["metadata"]["labels"]["team"], "a \"quoted\" name");
    // The same value again is no change.
    let (_, out) = run("modify(spec.replicas = 3);", deployment());
    assert_eq!(out, Outcome { matched: true, changed: false, deleted: false });
}

#[test]
fn modify_creates_missing_maps_but_not_array_elements() {
    let (obj, out) = run(r#"modify(spec.template.spec.affinity."x/y".z = 1);"#, deployment());
    assert_eq!(obj["spec"]["template"]["spec"]["affinity"], json!({"x/y": {"z": 1}}));
    assert!(out.changed);
    let (obj, out) = run(r#"modify(spec.template.spec.containers[5].image = "x");"#, deployment());
    assert_eq!((obj, out.changed), (deployment(), false));
    // A key below something that is not a map is left alone.
    let (obj, out) = run(r#"modify(spec.replicas.x = 1);"#, deployment());
    assert_eq!((obj, out.changed), (deployment(), false));
}

#[test]
fn paths_with_indexes_wildcards_and_quoted_keys() {
    let (obj, _) = run(r#"modify(spec.template.spec.containers[*].image = "scrubbed");"#, deployment());
    let images: Vec<_> =
        obj["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().map(|c| c["image"].clone()).collect();
    assert_eq!(images, [json!("scrubbed"), json!("scrubbed")]);
    let (obj, _) = run(r#"modify(spec.template.spec.containers[1].image = "one");"#, deployment());
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["image"], "one");
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/app:1");
    let (obj, _) = run(r#"remove(metadata.labels."simkube.dev/foo");"#, deployment());
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    let (obj, _) = run(r#"remove(spec.template.spec.containers[0].env[*]);"#, deployment());
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["env"], json!([]));
    // A quoted key may hold any character, with JSON's escapes.
    let (obj, _) = run(r#"modify("metadata".labels."a.b c\u00e9" = 1);"#, deployment());
    assert_eq!(obj["metadata"]["labels"]["a.b cé"], 1);
}

#[test]
fn comparisons_hold_where_some_match_does() {
    let program = r#"modify(spec.template.spec.containers[*].name != "app", metadata.labels.hit = true);"#;
    assert_eq!(run(program, deployment()).0["metadata"]["labels"]["hit"], true);
    let only_app = json!({"spec": {"template": {"spec": {"containers": [{"name": "app"}, {"image": "x"}]}}}});
    // The element without a name has nothing to compare: it does not match `!=`.
    assert!(!run(program, only_app).1.matched);
    // Numbers compare by value, whatever their JSON form.
    for (test, holds) in [
        ("spec.replicas == 3", true),
        ("spec.replicas == 3.0", true),
        ("spec.replicas != 3", false),
        ("spec.replicas < 4", true),
        ("spec.replicas <= 3", true),
        ("spec.replicas > 3", false),
        ("spec.replicas >= 3", true),
        ("spec.replicas > -1", true),
        ("spec.replicas < 2.5", false),
        (r#"spec.replicas == "3""#, false),
        ("status.readyReplicas == spec.replicas", true),
        ("spec.template.spec.nodeSelector.\"simkube.dev/foo\" == metadata.labels.app", false),
        ("metadata.missing == 1", false),
        ("metadata.missing != 1", false),
    ] {
        let program = format!("modify({test}, metadata.labels.hit = true);");
        assert_eq!(run(&program, deployment()).1.matched, holds, "{test}");
    }
}

#[test]
fn exists_and_not_exists() {
    for (test, holds) in [
        ("exists(status)", true),
        ("!exists(status)", false),
        ("exists(spec.template.spec.containers[*].env[*].valueFrom.secretKeyRef)", true),
        ("!exists(spec.template.spec.containers[*].envFrom)", true),
        (r#"exists(metadata.labels."simkube.dev/foo")"#, true),
        ("exists(spec.template.spec.containers[2])", false),
    ] {
        assert_eq!(run(&format!("remove({test}, status);"), deployment()).1.matched, holds, "{test}");
    }
}

#[test]
fn selectors_join_tests_with_and() {
    let both = r#"remove(metadata.namespace == "demo" && exists(status) && spec.replicas > 1, status);"#;
    assert!(run(both, deployment()).1.changed);
    let one_fails = r#"remove(metadata.namespace == "demo" && !exists(status), status);"#;
    assert!(!run(one_fails, deployment()).1.matched);
}

#[test]
fn time_tests_absolute_and_relative() {
    let at = |secs: i64| At { ts: 1_700_000_000 + secs, start: 1_700_000_000 };
    for (test, secs, holds) in [
        ("@t >= 10m", 600, true),
        ("@t >= 10m", 599, false),
        ("@t < 1h", 3599, true),
        ("@t < 1h", 3600, false),
        ("@t == 30s", 30, true),
        ("@t != 30s", 30, false),
        ("@t > 30", 30, true),
        ("@t <= 1700000030", 30, true),
        ("@t <= 1700000030", 31, false),
        ("@t >= 0s", 0, true),
    ] {
        let (_, out) = run_at(&format!("remove({test}, status);"), deployment(), at(secs));
        assert_eq!(out.matched, holds, "{test} at +{secs}s");
    }
}

#[test]
fn variables_bind_the_matches_that_pass_their_condition() {
    let program = "remove($x := spec.template.spec.containers[*].env[*] | exists($x.valueFrom.secretKeyRef), $x);";
    let (obj, _) = run(program, deployment());
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["env"], json!([{"name": "B", "value": "b"}]));
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["env"], json!([{"name": "C", "value": "c"}]));
    // Without a condition, every match; a variable's path may go on past it.
    let (obj, _) = run(r#"modify($c := spec.template.spec.containers[*], $c.image = "x");"#, deployment());
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["image"], "x");
    // A variable with no match fails its selector.
    let (_, out) = run("remove($x := spec.nothing[*] | exists($x.a), status);", deployment());
    assert!(!out.matched);
}

#[test]
fn the_guides_example_objects() {
    // SimKube's guide: the env entries with a secretKeyRef, across three containers.
    let mut obj = json!({"spec": {"template": {"spec": {"containers": [
        {"env": [{"valueFrom": {"secretKeyRef": "SOME_SECRET"}}, {"FOO": "BAR"}]},
        {"env": [{"ASDF": "QWERTY"}]},
        {"env": [{"FOO": "BAR"}, {"valueFrom": {"secretKeyRef": "SOME_SECRET"}}, {"valueFrom": {"secretKeyRef": "SOME_SECRET_2"}}]}
    ]}}}});
    let program = Program::parse(
        "remove($x := spec.template.spec.containers[*].env[*]\n    | exists($x.valueFrom.secretKeyRef), $x);",
    )
    .unwrap();
    program.apply(&mut obj, AT).unwrap();
    assert_eq!(
        obj,
        json!({"spec": {"template": {"spec": {"containers": [
            {"env": [{"FOO": "BAR"}]}, {"env": [{"ASDF": "QWERTY"}]}, {"env": [{"FOO": "BAR"}]}
        ]}}}})
    );
    // An assignment from a variable with one match.
    let (obj, _) = run(
        "modify($x := metadata.labels.app | exists($x), spec.template.spec.containers[*].name = $x);",
        deployment(),
    );
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["name"], "web");
}

#[test]
fn a_variable_compares_with_another() {
    let pod = json!({"spec": {"template": {"spec": {
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "data", "emptyDir": {}}],
        "containers": [{"volumeMounts": [{"name": "cfg"}, {"name": "data"}]}, {"volumeMounts": [{"name": "cfg"}]}]
    }}}});
    let program = "remove($x := spec.template.spec.volumes[*] | exists($x.configMap)
        && $y := spec.template.spec.containers[*].volumeMounts[*] | $y.name == $x.name, $y);";
    let (obj, _) = run(program, pod);
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"],
        json!([{"volumeMounts": [{"name": "data"}]}, {"volumeMounts": []}])
    );
}

#[test]
fn simkubes_sanitize_example_runs() {
    let program = include_str!("../testdata/sanitize.skel");
    let mut obj = deployment();
    obj["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "s", "secret": {"secretName": "s"}}, {"name": "e", "emptyDir": {}}]);
    obj["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "s"}, {"name": "e"}]);
    obj["spec"]["template"]["spec"]["serviceAccountName"] = json!("robot");
    let (obj, out) = run(program, obj);
    assert!(out.changed);
    let spec = &obj["spec"]["template"]["spec"];
    assert!(obj.get("status").is_none() && spec.get("serviceAccountName").is_none());
    assert_eq!(spec["volumes"], json!([{"name": "e", "emptyDir": {}}]));
    assert_eq!(spec["containers"][0]["volumeMounts"], json!([{"name": "e"}]));
    assert_eq!(spec["containers"][0]["env"], json!([{"name": "B", "value": "b"}]));
}

#[test]
fn the_guides_example_program_parses_and_runs() {
    let program = include_str!("../testdata/guide.skel");
    let (obj, _) = run_at(program, deployment(), At { ts: 1_700_000_700, start: 1_700_000_000 });
    let spec = &obj["spec"]["template"]["spec"];
    assert!(obj.get("status").is_none());
    assert!(spec.get("tolerations").is_none(), "the nodeSelector matched");
    assert!(spec.get("nodeSelector").is_none(), "after 10 minutes");
    assert_eq!(spec["containers"][0]["env"], json!([{"name": "B", "value": "b"}]));
}

#[test]
fn comments_and_whitespace_go_anywhere_between_tokens() {
    let program = "# a comment\nremove( # here\n  * , # and here\n status ) ;# end\n\n\tmodify(spec.replicas=1);";
    let (obj, _) = run(program, deployment());
    assert!(obj.get("status").is_none());
    assert_eq!(obj["spec"]["replicas"], 1);
    assert_eq!(Program::parse("").unwrap().commands.len(), 0);
    assert_eq!(Program::parse("  # nothing but a comment").unwrap().commands.len(), 0);
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    let e = parse_error("remove(status)");
    assert!(e.starts_with("line 1, column 15:") && e.contains("`;`") && e.contains("end of the program"), "{e}");
    let e = parse_error("remove(status);\nmodify(spec.replicas 3);");
    assert!(e.starts_with("line 2, column 22:") && e.contains("`=`"), "{e}");
    let e = parse_error("frobnicate(status);");
    assert!(e.starts_with("line 1, column 1:") && e.contains("modify"), "{e}");
    let e = parse_error("remove(@t >= 10x, status);");
    assert!(e.starts_with("line 1, column 16:"), "{e}");
    let e = parse_error("delete();");
    assert!(e.starts_with("line 1, column 8:") && e.contains("selector"), "{e}");
    let e = parse_error("remove(a == , b);");
    assert!(e.starts_with("line 1, column 13:") && e.contains("a number") && e.contains("found `,`"), "{e}");
    let e = parse_error("remove(metadata.labels.a.b/c);");
    assert!(e.starts_with("line 1, column 27:"), "{e}");
}

#[test]
fn meaning_errors_say_where() {
    let e = parse_error("remove(spec.a == 1, $x);");
    assert!(e.starts_with("line 1, column 21:") && e.contains("$x is not defined"), "{e}");
    let e = parse_error("remove(exists($y.a) && $y := spec.a[*], $y);");
    assert!(e.starts_with("line 1, column 15:") && e.contains("$y is not defined"), "{e}");
    let e = parse_error("remove($x := a[*] && $x := b[*], $x);");
    assert!(e.starts_with("line 1, column 22:") && e.contains("already defined"), "{e}");
    let e = parse_error("remove(spec.replicas < \"3\", status);");
    assert!(e.starts_with("line 1, column 24:") && e.contains("compares numbers") && e.contains("a string"), "{e}");
    let e = parse_error("remove(spec.replicas >= true, status);");
    assert!(e.contains("a boolean"), "{e}");
    let e = parse_error("remove(@t > 99999999999999999999, status);");
    assert!(e.starts_with("line 1, column 13:") && e.contains("out of range"), "{e}");
    let e = parse_error("remove(spec.a[99999999999999999999999]);");
    assert!(e.contains("out of range"), "{e}");
    let e = parse_error("modify(a = \"bad \\q escape\");");
    assert!(e.starts_with("line 1, column 12:") && e.contains("not valid"), "{e}");
}

#[test]
fn an_ordering_comparison_with_a_non_number_is_a_type_error_with_its_position() {
    let program = Program::parse("remove(\n  metadata.name > 3, status);").unwrap();
    let err = program.apply(&mut deployment(), AT).unwrap_err();
    assert_eq!((err.pos.line, err.pos.column), (2, 3));
    assert!(err.to_string().contains("metadata.name is a string (\"web\")"), "{err}");
    // A missing value is no match rather than an error.
    let program = Program::parse("remove(metadata.missing > 3, status);").unwrap();
    assert!(!program.apply(&mut deployment(), AT).unwrap().matched);
    // Equality of different types is simply false.
    let program = Program::parse("remove(metadata.name == 3, status);").unwrap();
    assert!(!program.apply(&mut deployment(), AT).unwrap().matched);
}

#[test]
fn an_assignment_from_many_values_is_an_error() {
    let program =
        Program::parse("modify($x := spec.template.spec.containers[*].name | exists($x), metadata.labels.foo = $x);")
            .unwrap();
    let err = program.apply(&mut deployment(), AT).unwrap_err();
    assert!(err.to_string().starts_with("line 1, column 88:") && err.to_string().contains("2 values"), "{err}");
    // From nothing: no change.
    let (obj, out) = run("modify(metadata.labels.foo = spec.nothing);", deployment());
    assert_eq!((obj, out.changed), (deployment(), false));
}

#[test]
fn commands_see_what_earlier_ones_left() {
    let program =
        r#"modify(metadata.labels.stage = "one"); modify(metadata.labels.stage == "one", spec.replicas = 0);"#;
    assert_eq!(run(program, deployment()).0["spec"]["replicas"], 0);
}

#[test]
fn paths_print_as_written() {
    let program = Program::parse(r#"remove($x := a."b.c"[0][*].d | exists($x), $x.e);"#).unwrap();
    let crate::ast::Test::Bind { path, .. } = &program.commands[0].selector[0] else { panic!() };
    assert_eq!(path.to_string(), r#"a."b.c"[0][*].d"#);
}
