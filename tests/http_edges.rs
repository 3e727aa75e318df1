//! The HTTP edges over a real socket, served by the binary's accept loop: the header read
//! timeout, the connection cap, the shutdown deadline, the `Host`/`Origin`/`Content-Type`
//! checks of a token-less instance, token rules, `/metrics` behind the token, and 5xx bodies
//! without internal text.
//!
//! Nothing here measures speed: each wait has a bound far above what the behaviour needs
//! (seconds against milliseconds), and a check that something does *not* happen can only pass
//! more easily on a slow machine, never fail.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use spoke_batches::service::ServeLimits;
use support::db::TestDb;
use support::server::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "edge-service-token-0123";
const OPERATOR: &str = "edge-operator-token-0123";

/// Far longer than any behaviour here takes.
const BOUND: Duration = Duration::from_secs(20);

async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (5, 'a5', 'T', 'T', '1', 'e5');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (10, 1, 'Campaign', TRUE, FALSE, TRUE, 3, 'tok');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10);
        INSERT INTO campaign_contact (campaign_id, cell) VALUES (10, '1'), (10, '2'), (10, '3'), (10, '4');
        "#,
    )
    .await;
}

fn limits(header_read_timeout: Duration, max_connections: usize, shutdown_timeout: Duration) -> ServeLimits {
    ServeLimits {
        header_read_timeout,
        max_connections,
        shutdown_timeout,
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Reads until the server closes the connection (or resets it); `false` if it is still open
/// after `BOUND`.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Sends a request head one byte at a time, never finishing it, until the server hangs up.
async fn trickle(mut stream: TcpStream) {
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";
    let mut bytes = head.iter().copied().chain(std::iter::repeat(b'a'));
    loop {
        let byte = bytes.next().unwrap_or(b'a');
        if stream.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One `GET /healthz` on an open keep-alive connection; the status line.
async fn healthz_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"ok\n") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(
            read > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn silent_and_trickling_clients_are_cut_off_at_the_header_read_timeout() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            limits: limits(Duration::from_millis(300), 1_024, Duration::from_secs(30)),
            ..ServerOptions::default()
        },
    )
    .await;
    // Connected, sending nothing (not even enough to tell HTTP/1 from HTTP/2).
    let mut silent = TcpStream::connect(server.address).await.unwrap();
    // A request head trickled byte by byte, each byte well within the timeout.
    let trickler = TcpStream::connect(server.address).await.unwrap();
    let trickling = tokio::spawn(trickle(trickler));
    assert!(
        closed_by_server(&mut silent).await,
        "a silent connection stayed open"
    );
    assert!(
        tokio::time::timeout(BOUND, trickling).await.is_ok(),
        "a trickling connection stayed open"
    );
    // An idle keep-alive connection after its answer is closed too; a prompt client is served.
    let mut prompt = TcpStream::connect(server.address).await.unwrap();
    assert_eq!(healthz_on(&mut prompt).await, "HTTP/1.1 200 OK");
    assert!(
        closed_by_server(&mut prompt).await,
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test]
async fn a_trickling_client_does_not_hold_a_shutdown_past_its_deadline() {
    let db = TestDb::sqlite().await;
    // The header read timeout is far away: only the shutdown deadline can end the trickle.
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            limits: limits(Duration::from_secs(600), 1_024, Duration::from_millis(300)),
            ..ServerOptions::default()
        },
    )
    .await;
    let address = server.address;
    let trickler = TcpStream::connect(address).await.unwrap();
    let trickling = tokio::spawn(trickle(trickler));
    let mut prompt = TcpStream::connect(address).await.unwrap();
    assert_eq!(healthz_on(&mut prompt).await, "HTTP/1.1 200 OK");
    assert!(
        server.shut_down_within(BOUND).await,
        "the shutdown waited for the trickling client"
    );
    assert!(
        tokio::time::timeout(BOUND, trickling).await.is_ok(),
        "the trickling connection outlived the shutdown"
    );
    // The idle keep-alive connection was closed, and nothing listens any more.
    assert!(closed_by_server(&mut prompt).await);
    assert!(TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn connections_past_the_cap_wait_while_open_ones_are_served() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            limits: limits(Duration::from_secs(600), 2, Duration::from_secs(30)),
            ..ServerOptions::default()
        },
    )
    .await;
    // Two connections take the cap: one answered and kept alive, one silent.
    let mut kept = TcpStream::connect(server.address).await.unwrap();
    assert_eq!(healthz_on(&mut kept).await, "HTTP/1.1 200 OK");
    let silent = TcpStream::connect(server.address).await.unwrap();
    // A third connects (the kernel's backlog takes it) and asks; it is not accepted yet.
    let mut waiting = TcpStream::connect(server.address).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection past the cap was served: {early:?}");
    // The connections already open are served all along.
    assert_eq!(healthz_on(&mut kept).await, "HTTP/1.1 200 OK");
    // Once one closes, the waiting one is accepted and answered.
    drop(silent);
    let read = tokio::time::timeout(BOUND, waiting.read(&mut buffer))
        .await
        .expect("the waiting connection was never served")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&buffer[..read])
    );
}

on_both_databases!(a_token_less_instance_refuses_other_names_other_sites_and_non_json_posts);

/// DNS rebinding and CSRF against a token-less loopback instance: only loopback names and the
/// listen address are served, a page of another origin is refused, and every POST must be JSON.
/// The dashboard's own same-origin requests keep working.
async fn a_token_less_instance_refuses_other_names_other_sites_and_non_json_posts(db: &TestDb) {
    seed(db).await;
    let server = TestServer::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")], None).await;
    let client = Client::new();
    let port = server.address.port();
    let assigned = "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL";
    for host in [
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example:80",
    ] {
        let response = client
            .get(server.url("/healthz"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
        assert_eq!(code(&response.json().await.unwrap()), "BAD_HOST");
        let response = client
            .post(server.url("/v1/assignments/100/batches"))
            .header("host", host)
            .json(&json!({"texterId": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "localhost".to_string(),
    ] {
        let response = client
            .get(server.url("/healthz"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    // A page of another origin can neither write nor read.
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let response = client
            .post(server.url("/v1/assignments/100/batches"))
            .header("origin", origin)
            .json(&json!({"texterId": 5}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(code(&response.json().await.unwrap()), "CROSS_ORIGIN");
    }
    let response = client
        .get(server.url("/v1/dashboard"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A form or text/plain post (what a page can send without a preflight) is refused.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        for path in ["/v1/contacts/1/message-sent", "/v1/assignments/100/batches"] {
            let mut request = client.post(server.url(path)).body(r#"{"texterId": 5}"#);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert_eq!(code(&response.json().await.unwrap()), "UNSUPPORTED_MEDIA_TYPE");
        }
    }
    assert_eq!(db.int(assigned).await, 0);
    // The dashboard page and its own requests (same origin) work.
    let same_origin = server.base.clone();
    let page = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let data = client
        .get(server.url("/v1/dashboard"))
        .header("origin", &same_origin)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), StatusCode::OK);
    let batch = client
        .post(server.url("/v1/assignments/100/batches"))
        .header("origin", &same_origin)
        .json(&json!({"texterId": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), StatusCode::OK);
    let sent = client
        .post(server.url("/v1/contacts/1/message-sent"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK, "an empty JSON post");
    assert_eq!(db.int(assigned).await, 3);
    // With a token, any name may be served (the token is the guard).
    let guarded = TestServer::start(db, &[], Some(TOKEN)).await;
    let response = client
        .get(guarded.url("/v1/strategies"))
        .header("host", "batches.example.org")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_and_unknown_v1_paths_need_the_token_when_one_is_set() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            token: Some(TOKEN),
            operator_token: Some(OPERATOR),
            ..ServerOptions::default()
        },
    )
    .await;
    let client = Client::new();
    let metrics = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(metrics.headers()["www-authenticate"], "Bearer");
    for token in [TOKEN, OPERATOR] {
        let metrics = client
            .get(server.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), StatusCode::OK);
    }
    for path in ["/v1/nothing-here", "/v1/assignments/100/nothing", "/v1"] {
        let anonymous = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        let known = client
            .get(server.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(known.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let wrong_method = client.delete(server.url("/v1/strategies")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::UNAUTHORIZED);
    // /healthz stays open; --public-metrics opens /metrics.
    assert_eq!(
        client.get(server.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let public = TestServer::start_with(
        &db,
        ServerOptions {
            token: Some(TOKEN),
            public_metrics: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let metrics = client.get(public.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let v1 = client.get(public.url("/v1/strategies")).send().await.unwrap();
    assert_eq!(v1.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn serve_refuses_short_and_blank_tokens_at_start() {
    for (variable, token) in [
        ("SPOKE_BATCHES_TOKEN", " "),
        ("SPOKE_BATCHES_TOKEN", "fifteen-chars!!"),
        ("SPOKE_BATCHES_OPERATOR_TOKEN", "short"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
            .args(["serve", "--listen", "0.0.0.0:0", "--no-watch", "--no-cache"])
            .args(["--database-url", "sqlite::memory:"])
            .env(variable, token)
            .env_remove(if variable == "SPOKE_BATCHES_TOKEN" {
                "SPOKE_BATCHES_OPERATOR_TOKEN"
            } else {
                "SPOKE_BATCHES_TOKEN"
            })
            .output()
            .unwrap();
        assert!(!output.status.success(), "{variable}={token:?} was accepted");
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(code(&answer), "BAD_TOKEN", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(variable), "{message}");
    }
}

on_both_databases!(server_side_failures_answer_without_internal_text);

/// Bad configuration stored in the database is a 500 `BAD_CONFIG` and a failing database a
/// 503 `DATABASE`; neither body carries the parser's or the database's own text.
async fn server_side_failures_answer_without_internal_text(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE organization SET features = '{not json' WHERE id = 1")
        .await;
    let server = TestServer::start(db, &[], Some(TOKEN)).await;
    let client = Client::new();
    let response = client
        .post(server.url("/v1/assignments/100/batches"))
        .bearer_auth(TOKEN)
        .json(&json!({"texterId": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(code(&answer), "BAD_CONFIG");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("an administrator must fix them"), "{message}");
    for internal in ["not json", "line 1", "key must be a string", "organization 1"] {
        assert!(
            !message.contains(internal),
            "internal text ({internal}) in {message}"
        );
    }
    db.exec("UPDATE organization SET features = '{}' WHERE id = 1")
        .await;
    db.exec("DROP TABLE campaign_contact").await;
    let response = client
        .post(server.url("/v1/assignments/100/batches"))
        .bearer_auth(TOKEN)
        .json(&json!({"texterId": 5}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::SERVICE_UNAVAILABLE, "DATABASE"),
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap();
    for internal in [
        "campaign_contact",
        "no such table",
        "does not exist",
        "error returned from database",
    ] {
        assert!(
            !message.contains(internal),
            "internal text ({internal}) in {message}"
        );
    }
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_after_the_header_and_request_timeouts() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            limits: limits(Duration::from_millis(300), 1_024, Duration::from_secs(30)),
            request_timeout: Duration::from_millis(300),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(
            b"POST /v1/assignments/100/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"texterId\"",
        )
        .await
        .unwrap();
    // The body trickles on; the service answers 408 and closes.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(BOUND, async {
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(read) => answer.extend_from_slice(&buffer[..read]),
                },
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "a trickled body held its connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        0
    );
}
