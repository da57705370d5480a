//! The trace page in a real browser (headless Chromium through chromedriver): the live tracer's
//! page against the binary on the emulator, and the page of a trace file, written by
//! `inspect --html` and opened from disk, and served by `view`.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::Locator;
use kube_emulator::Emulator;
use serde_json::{json, Value};
use support::browser::Browser;
use support::*;

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";

fn deployment(ns: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"namespace": ns, "name": name, "labels": {"app": name, "team": "shop"}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
               "metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn key(ns: &str, name: &str) -> String {
    format!("apps/v1.Deployment {ns}/{name}")
}

/// The first mark of `op` in a row: its time and where it is drawn.
async fn mark(browser: &Browser, key: &str, op: &str) -> (i64, f64, f64) {
    let marks = browser.eval(&format!("return skPage.marks({key:?})")).await;
    let ts = marks
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m[1] == op)
        .unwrap_or_else(|| panic!("{key} has no {op} mark: {marks}"))[0]
        .as_i64()
        .unwrap();
    let at = browser.eval(&format!("return skPage.markPoint({key:?}, {ts})")).await;
    (ts, at["x"].as_f64().unwrap(), at["y"].as_f64().unwrap())
}

/// Shows `[from, to)`, as a link with that span would.
async fn show(browser: &Browser, from: i64, to: i64) {
    browser.eval(&format!("location.hash = 'from={from}&to={to}'; return true")).await;
    browser
        .wait_for("the span shown", &format!("const v = skPage.view(); return v[0] === {from} && v[1] === {to}"))
        .await;
}

async fn changes_shown(browser: &Browser) -> String {
    browser
        .wait_for(
            "the changed fields",
            "const c = document.getElementById('changes'); return !!c && c.textContent.length > 0",
        )
        .await;
    browser.eval("return document.getElementById('detail').textContent").await.as_str().unwrap_or_default().to_string()
}

#[test]
fn the_live_page_shows_filters_diffs_follows_and_exports() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create(deployment("d", "web", "nginx:1.27")).unwrap();
    emu.create(deployment("d", "api", "api:3")).unwrap();
    emu.create(deployment("other", "db", "postgres:16")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    emu.update(deployment("d", "web", "nginx:1.28")).unwrap();
    wait_until(10, "the update recorded", || applied(&tracer.export_all(), "Deployment").len() == 4);

    rt.block_on(async {
        let Some(browser) = Browser::start().await else { return };
        let base = format!("http://127.0.0.1:{}/", tracer.port);
        browser.open(&base).await;
        let rows = browser.rows().await;
        assert_eq!(rows, [key("d", "api"), key("d", "web"), key("other", "db")], "one row per recorded object");

        // A filter hides rows, and the URL keeps it through a reload.
        browser.client.find(Locator::Id("f-ns")).await.unwrap().send_keys("other").await.unwrap();
        assert_eq!(browser.rows().await, [key("other", "db")]);
        browser.wait_for("the filter in the URL", "return location.hash.includes('ns=other')").await;
        browser.client.refresh().await.unwrap();
        browser.wait_ready().await;
        assert_eq!(browser.rows().await, [key("other", "db")], "the filter survives a reload");
        assert_eq!(browser.eval("return document.getElementById('f-ns').value").await, "other");
        browser.open(&format!("{base}#ns=")).await;
        browser.wait_for("every row again", "return skPage.visibleKeys().length === 3").await;

        // A click on the update shows the field that changed. Zoomed in, so that the creation a
        // second before is drawn apart from it; in the past, so that following the tracer does
        // not move it.
        let marks = browser.eval(&format!("return skPage.marks({:?})", key("d", "web"))).await;
        let update_ts = marks.as_array().unwrap().iter().find(|m| m[1] == "u").expect("an update")[0].as_i64().unwrap();
        show(&browser, update_ts - 20, update_ts + 1).await;
        let (_, x, y) = mark(&browser, &key("d", "web"), "u").await;
        browser.click_at(x, y).await;
        let detail = changes_shown(&browser).await;
        assert!(detail.contains("spec.template.spec.containers[0].image"), "{detail}");
        assert!(detail.contains("\"nginx:1.27\"") && detail.contains("\"nginx:1.28\""), "{detail}");

        // A change made with kubectl appears without a reload.
        browser.eval("window.stillThisPage = true; return true").await;
        let kubeconfig = tracer.dir.path().join("kubeconfig");
        let by_kubectl = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["-n", "d", "create", "deployment", "late", "--image=nginx:1.28"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !by_kubectl {
            eprintln!("kubectl is not installed: the change is made through the emulator's API instead");
            emu.create(deployment("d", "late", "nginx:1.28")).unwrap();
        }
        browser
            .wait_for("the new object's row", &format!("return skPage.visibleKeys().includes({:?})", key("d", "late")))
            .await;
        assert_eq!(browser.eval("return window.stillThisPage === true").await, true, "no reload");

        // "Export this window" downloads the trace of the window shown: one in the past, which
        // the page does not move as it follows the tracer.
        let (from, to) = (update_ts - 5, update_ts + 1);
        show(&browser, from, to).await;
        browser.client.find(Locator::Id("export")).await.unwrap().click().await.unwrap();
        let file = browser.downloaded().await;
        let trace = sk_core::trace::decode(&std::fs::read(&file).unwrap()).expect("a v1 trace");
        assert_eq!(trace.events[0].ts, from, "the trace starts where the window does");
        assert!(trace.events.iter().all(|e| e.ts < to), "and ends before its end");
        assert_eq!(trace.events.last().unwrap().ts, update_ts, "the update is inside");
        let inspected = Command::new(BINARY).arg("inspect").arg(&file).output().unwrap();
        assert!(inspected.status.success(), "{}", String::from_utf8_lossy(&inspected.stderr));
        let summary = String::from_utf8_lossy(&inspected.stdout);
        assert!(summary.contains("format v1") && summary.contains("apps/v1.Deployment"), "{summary}");

        assert_eq!(browser.console_errors().await, Vec::<String>::new(), "no console errors");
        browser.close().await;
    });
}

#[test]
fn the_page_of_a_trace_file_works_offline_and_from_view() {
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/quickstart.sktrace");
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("quickstart.html");
    let out = Command::new(BINARY).args(["inspect", quickstart, "--html"]).arg(&html).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut view =
        Command::new(BINARY).args(["view", quickstart]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(view.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let served = line.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).expect("a URL").to_string();

    let rt = runtime();
    rt.block_on(async {
        let Some(browser) = Browser::start().await else { return };
        browser.open(&format!("file://{}", html.display())).await;
        let expected = [
            "apps/v1.Deployment shop/cache",
            "apps/v1.Deployment shop/web",
            "batch.volcano.sh/v1alpha1.Job ml/train",
            "batch/v1.CronJob batch/nightly",
            "batch/v1.Job batch/report",
        ];
        assert_eq!(browser.rows().await, expected);
        let fetched = browser.eval("return performance.getEntriesByType('resource').map(e => e.name)").await;
        assert_eq!(fetched, json!([]), "the page fetches nothing");

        // The rollout, chosen with the keyboard: the web row, then its changes to the update.
        let canvas = browser.client.find(Locator::Id("timeline")).await.unwrap();
        canvas.click().await.unwrap();
        let web = "apps/v1.Deployment shop/web";
        let marks = browser.eval(&format!("return skPage.marks({web:?})")).await;
        let rollout = marks.as_array().unwrap().iter().rfind(|m| m[1] == "u").expect("an update")[0].as_i64().unwrap();
        canvas.send_keys("\u{E011}").await.unwrap(); // Home: the first row, shop/cache
        canvas.send_keys("\u{E015}").await.unwrap(); // ArrowDown: shop/web
        let mut steps = 0;
        while browser.eval("return skPage.selected() && skPage.selected().ts").await != json!(rollout) {
            canvas.send_keys("\u{E014}").await.unwrap(); // ArrowRight
            steps += 1;
            assert!(
                steps < 10,
                "the rollout is reached by the keys: {}",
                browser.eval("return skPage.selected()").await
            );
        }
        assert_eq!(browser.eval("return skPage.selected().key").await, web);
        canvas.send_keys("\u{E007}").await.unwrap(); // Enter
        let detail = changes_shown(&browser).await;
        assert!(detail.contains("spec.template.spec.containers[0].image"), "{detail}");
        assert!(detail.contains("Pods ("), "{detail}");
        assert!(!detail.contains("Pods (0)"), "web's pods are listed: {detail}");
        assert_eq!(browser.console_errors().await, Vec::<String>::new(), "no console errors");

        // The same page, served by `view`.
        browser.open(&served).await;
        assert_eq!(browser.rows().await, expected);
        assert_eq!(browser.console_errors().await, Vec::<String>::new(), "no console errors");
        browser.close().await;
    });
    let _ = view.kill();
    let _ = view.wait();
}

#[test]
fn with_a_token_the_page_asks_for_it_and_the_endpoints_take_it_from_the_cookie() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret; with=odd chars\n").unwrap();
    let env = [("SK_TRACER_SERVER__AUTH__TOKEN_FILE", token_file.display().to_string())];
    let tracer = start_tracer_with_env(&emu, CONFIG, &env);
    emu.create(deployment("d", "web", "nginx:1.27")).unwrap();
    let bearer = [("Authorization", "Bearer s3cret; with=odd chars")];
    wait_until(10, "the object recorded", || {
        let r = request_with_headers(tracer.port, "GET", "/api/window", &bearer, b"");
        r.status == 200 && String::from_utf8_lossy(&r.body).contains("\"web\"")
    });
    // Without the token: the page is a form asking for it, the data is refused.
    let page = request(tracer.port, "GET", "/", b"");
    assert_eq!(page.status, 401);
    assert!(String::from_utf8_lossy(&page.body).contains(r#"<form method="post" action="login">"#));
    assert!(!String::from_utf8_lossy(&page.body).contains("sk-data"), "no page without the token");
    assert_eq!(request(tracer.port, "GET", "/api/window", b"").status, 401);
    let forged = [("Cookie", "sk-tracer-token=guess")];
    assert_eq!(request_with_headers(tracer.port, "GET", "/api/window", &forged, b"").status, 401);

    rt.block_on(async {
        let Some(browser) = Browser::start().await else { return };
        let base = format!("http://127.0.0.1:{}/", tracer.port);
        browser.client.goto(&base).await.unwrap();
        let field = browser.client.find(Locator::Id("token")).await.unwrap();
        field.send_keys("wrong").await.unwrap();
        browser.client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        browser.wait_for("the refusal", "return document.body.textContent.includes('not valid')").await;
        let field = browser.client.find(Locator::Id("token")).await.unwrap();
        field.send_keys("s3cret; with=odd chars").await.unwrap();
        browser.client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        browser.wait_ready().await;
        assert_eq!(browser.rows().await, [key("d", "web")], "the page reads its data with the cookie");
        let cookie = browser.eval("return document.cookie").await;
        assert_eq!(cookie, "", "the script cannot read the token");
        // The browser logs the refusals (401) of the form; nothing else.
        let errors = browser.console_errors().await;
        assert!(errors.iter().all(|e| e.contains("status of 401")), "{errors:?}");
        browser.client.refresh().await.unwrap();
        browser.wait_ready().await;
        assert_eq!(browser.rows().await, [key("d", "web")], "the cookie lasts through a reload");
        assert_eq!(browser.console_errors().await, Vec::<String>::new(), "no console errors");
        browser.close().await;
    });
}
