//! The playground in a real browser: headless Chromium, driven over the
//! DevTools protocol, against the gateway and the three subgraphs, with every
//! host but 127.0.0.1 unresolvable (so a CDN reference would fail the test).
//! Skips, saying why, where Chromium is not installed (`.ci/run` installs it).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use super::{Federation, SPANNING, expected_users};

/// How long a page may take to get where a step waits for: a hang guard,
/// not a speed check.
const PATIENCE: Duration = Duration::from_secs(60);

fn chromium() -> Option<PathBuf> {
    std::env::var_os("SWITCHYARD_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")))
        .filter(|path| path.exists())
}

/// A headless Chromium with its own profile, killed on drop.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    debugger: String,
}

impl Browser {
    fn launch(executable: &Path) -> Self {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(executable)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1400,900",
                // Offline but for the servers under test.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it picked into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + PATIENCE;
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|text| text.lines().next().map(str::to_owned))
                .filter(|line| !line.is_empty())
            {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "chromium published no DevTools port"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        Self {
            child,
            _profile: profile,
            debugger: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The DevTools session of the tab Chromium opened.
    async fn tab(&self) -> Tab {
        let targets: Value = reqwest::get(format!("{}/json/list", self.debugger))
            .await
            .expect("DevTools target list")
            .json()
            .await
            .expect("JSON target list");
        let url = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (socket, _) = connect_async(url).await.expect("DevTools websocket");
        let mut tab = Tab {
            socket,
            next_id: 0,
            events: Vec::new(),
        };
        tab.call("Page.enable", json!({})).await;
        tab.call("Network.enable", json!({})).await;
        tab
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One page's DevTools connection: commands in order, events kept.
struct Tab {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl Tab {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .expect("send DevTools command");
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("DevTools connection open")
                .expect("DevTools message");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy (not null, false or "").
    async fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.eval(expression).await;
            if !matches!(&value, Value::Null | Value::Bool(false)) && value.as_str() != Some("") {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("screenshot dir");
        std::fs::write(path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    /// Every URL the page asked for so far.
    fn requested_urls(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
}

/// The text of the CodeMirror editor inside `selector` (its model, not the
/// rendered lines, which CodeMirror limits to what is on screen).
fn editor_text(selector: &str) -> String {
    format!("document.querySelector('{selector} .CodeMirror')?.CodeMirror.getValue()")
}

const RESPONSE: &str = ".graphiql-response";

#[tokio::test]
async fn the_playground_runs_a_federated_query_in_headless_chromium_offline() {
    let Some(executable) = chromium() else {
        eprintln!(
            "SKIPPED: no Chromium at /usr/bin/chromium (apt-get install chromium, or set SWITCHYARD_CHROMIUM)"
        );
        return;
    };
    let fed = Federation::start(|c| c.expose_query_plan = true).await;
    let browser = Browser::launch(&executable);
    let mut tab = browser.tab().await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground");

    // A link with ?query= and ?variables= opens the playground prefilled.
    let link = reqwest::Url::parse_with_params(
        &fed.url,
        &[("query", SPANNING), ("variables", r#"{"n": 3}"#)],
    )
    .expect("URL");
    tab.call("Page.navigate", json!({ "url": link.as_str() }))
        .await;
    let prefilled = tab
        .wait_for("the query editor", &editor_text(".graphiql-query-editor"))
        .await;
    assert_eq!(prefilled, SPANNING);
    // The headers editor is open, with a place for the bearer token.
    let headers = tab
        .wait_for(
            "the headers editor",
            &format!(
                "(() => {{ const e = document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror'); \
                 return e && e.offsetParent !== null ? e.CodeMirror.getValue() : null; }})()"
            ),
        )
        .await;
    assert!(
        headers
            .as_str()
            .unwrap_or_default()
            .contains("\"Authorization\""),
        "{headers}"
    );

    // Users' orders and notifications need a token: run as an admin, the way
    // a person would, by filling the header in.
    tab.eval(&format!(
        "document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')\
         .CodeMirror.setValue({})",
        serde_json::to_string(&format!(
            "{{\"Authorization\": \"Bearer {}\"}}",
            kit::testing::admin_token()
        ))
        .expect("JSON string")
    ))
    .await;
    tab.eval("document.querySelector('.graphiql-execute-button').click()")
        .await;
    let result = tab.wait_for("the response", &editor_text(RESPONSE)).await;
    let result: Value = serde_json::from_str(result.as_str().expect("text")).expect("JSON result");
    assert!(result.get("errors").is_none(), "{result:#}");
    assert_eq!(
        result["data"],
        expected_users(3),
        "data from all three subgraphs"
    );
    assert!(
        result["extensions"]["queryPlan"]
            .as_str()
            .is_some_and(|pointer| pointer.contains("Query plan")),
        "{result:#}"
    );
    // The plan moved to its own pane.
    tab.eval("document.querySelector('[aria-label=\"Show Query plan\"]').click()")
        .await;
    let plan = tab
        .wait_for(
            "the query plan pane",
            "document.querySelector('[data-testid=query-plan]')?.textContent",
        )
        .await;
    for service in ["users", "orders", "notifications"] {
        assert!(
            plan.as_str()
                .unwrap_or_default()
                .contains(&format!("service: \"{service}\"")),
            "{plan}"
        );
    }
    tab.screenshot(&shots.join("prefilled.png")).await;

    // A query typed into the editor runs.
    let typed = r#"{ user(id: "2") { name orderCount unreadNotificationCount } }"#;
    tab.eval(&format!(
        "(() => {{ const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror; \
         cm.setValue(''); cm.focus(); }})()"
    ))
    .await;
    tab.call("Input.insertText", json!({ "text": typed })).await;
    assert_eq!(
        tab.eval(&editor_text(".graphiql-query-editor")).await,
        typed
    );
    // The page copies the edited query into its URL once GraphiQL has
    // re-read the operation (it does so a moment after typing stops); running
    // before that would send the old operation name.
    let url = tab
        .wait_for(
            "the URL to follow the editor",
            &format!(
                "new URLSearchParams(location.search).get('query') === {} && location.href",
                serde_json::to_string(typed).expect("JSON string")
            ),
        )
        .await;
    assert!(
        url.as_str().is_some_and(|u| u.contains("variables=")),
        "{url}"
    );
    tab.eval(&format!(
        "document.querySelector('{RESPONSE} .CodeMirror').CodeMirror.setValue('')"
    ))
    .await;
    tab.eval("document.querySelector('.graphiql-execute-button').click()")
        .await;
    let result = tab
        .wait_for("the typed query's response", &editor_text(RESPONSE))
        .await;
    let result: Value = serde_json::from_str(result.as_str().expect("text")).expect("JSON result");
    let user = &expected_users(2)["users"]["edges"][1]["node"];
    assert_eq!(
        result["data"]["user"],
        json!({
            "name": user["name"],
            "orderCount": user["orders"]["edges"].as_array().map(Vec::len),
            "unreadNotificationCount": user["unreadNotificationCount"],
        }),
        "{result:#}"
    );
    tab.screenshot(&shots.join("typed.png")).await;

    // Everything the page loaded came from the gateway.
    let origin = fed.url.trim_end_matches("/graphql");
    let urls = tab.requested_urls();
    assert!(
        urls.iter().any(|u| u.contains("/playground/playground.js")),
        "{urls:#?}"
    );
    let foreign: Vec<_> = urls
        .iter()
        .filter(|u| !u.starts_with(origin) && !u.starts_with("data:"))
        .collect();
    assert!(
        foreign.is_empty(),
        "the page reached beyond the gateway: {foreign:#?}"
    );
}
