//! The `mica-host` command line, run as a user would (CONTRACT.md).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn plugin_wasm() -> PathBuf {
    let path = std::env::var("MICA_PLUGIN_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm")
        });
    assert!(
        path.is_file(),
        "{} is missing: run scripts/build-plugin.sh",
        path.display()
    );
    path
}

fn host(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mica-host"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("MICA_ADMIN_TOKEN")
        .env_remove("MICA_DATA_DIR")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The version the bundled plugin declares (`plugin/Cargo.toml`).
const PLUGIN_VERSION: &str = "0.1.4";

/// A deployment script configures the host before it has ever run: `param` on a fresh store
/// installs the bundled plugin first (as `serve` would), so its parameters are known.
#[test]
fn param_set_on_a_fresh_store_works_before_the_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let set = host(d, &["param", "set", "auth.feishu.app_id", "cli_a1b2c3"]);
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.app_id"])),
        "\"cli_a1b2c3\""
    );
    let list = stdout(&host(d, &["plugin", "list"]));
    assert!(
        list.starts_with(&format!("feishu\t{PLUGIN_VERSION}\tactive")),
        "{list}"
    );
    // A key no plugin declares is still refused, naming it.
    let unknown = host(d, &["param", "get", "auth.feishu.nope"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown parameter auth.feishu.nope"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn install_list_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wasm = plugin_wasm();
    let install = host(
        d,
        &["plugin", "install", wasm.to_str().unwrap(), "--activate"],
    );
    assert!(install.status.success(), "{}", stderr(&install));
    assert_eq!(
        stdout(&install),
        format!("feishu {PLUGIN_VERSION}\nactivated")
    );

    let list = host(d, &["plugin", "list"]);
    let line = stdout(&list);
    assert!(
        line.starts_with(&format!(
            "feishu\t{PLUGIN_VERSION}\tactive\tnotifier,approval-provider\t"
        )),
        "{line}"
    );

    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.enabled"])),
        "false"
    );
    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.base_url"])),
        "\"https://open.feishu.cn\""
    );
    assert!(
        host(d, &["param", "set", "auth.feishu.enabled", "true"])
            .status
            .success()
    );
    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.enabled"])),
        "true"
    );
    let bad = host(d, &["param", "set", "auth.feishu.enabled", "maybe"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("auth.feishu.enabled must be a bool"),
        "{}",
        stderr(&bad)
    );

    assert!(
        host(d, &["param", "set", "auth.feishu.app_id", "cli_a1b2c3"])
            .status
            .success()
    );
    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.app_id"])),
        "\"cli_a1b2c3\""
    );

    assert_eq!(
        stdout(&host(d, &["param", "get", "auth.feishu.app_secret"])),
        "(secret: not set)"
    );
    let set = host(
        d,
        &["param", "set", "auth.feishu.app_secret", "s3cr3t-value"],
    );
    assert!(set.status.success());
    let got = host(d, &["param", "get", "auth.feishu.app_secret"]);
    assert_eq!(stdout(&got), "(secret: set)");
    for o in [&set, &got] {
        assert!(!stdout(o).contains("s3cr3t") && !stderr(o).contains("s3cr3t"));
    }

    // A PostgreSQL database that does not answer: the command says where it tried, and never
    // prints the password in the URL.
    let pg = host(
        d,
        &[
            "--database-url",
            "postgres://u:pw-not-printed@127.0.0.1:1/mica",
            "plugin",
            "list",
        ],
    );
    assert!(!pg.status.success());
    assert!(
        stderr(&pg).contains("connecting to the database 127.0.0.1:1/mica"),
        "{}",
        stderr(&pg)
    );
    assert!(!stderr(&pg).contains("pw-not-printed") && !stdout(&pg).contains("pw-not-printed"));
}

/// The data directory and the database are this user's alone: the database holds the sealed
/// secrets, the plugins and every recipient's address.
#[cfg(unix)]
#[test]
fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh").join("data");
    let set = host(
        &data,
        &["param", "set", "auth.feishu.app_id", "\"cli_a1b2c3\""],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in ["mica-host.db", "secret.key"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

/// A lost secret key is not a fresh start: with sealed secrets in the store and no key to open
/// them, every command stops with a clear error (instead of making a new key and failing every
/// plugin call later), and leaves no new key behind.
#[test]
fn a_lost_secret_key_stops_the_host_instead_of_replacing_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let set = host(
        d,
        &["param", "set", "auth.feishu.app_secret", "\"s3cret-value\""],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let key = d.join("secret.key");
    assert!(key.exists());
    std::fs::remove_file(&key).unwrap();
    for args in [
        &["param", "get", "auth.feishu.app_id"][..],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = host(d, args);
        assert!(!out.status.success(), "{args:?} ran without the key");
        let err = stderr(&out);
        assert!(
            err.contains("the secret key is missing or is not the one they were sealed with"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("s3cret-value"));
        assert!(!key.exists(), "{args:?} left a new key behind");
    }
}

/// A reserve that leaves bulk nothing is refused at start, naming both settings, rather than
/// leaving every contract-expiry card waiting forever.
#[test]
fn a_bulk_reserve_of_the_whole_minute_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = host(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-per-minute",
            "500",
            "--bulk-reserve-per-minute",
            "500",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--bulk-reserve-per-minute (500) must be less than --rate-per-minute (500)"),
        "{err}"
    );
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn serve_generates_a_private_admin_token_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mica-host"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--plugin",
        ])
        .arg(plugin_wasm())
        .env("MICA_DATA_DIR", dir.path())
        .env("RUST_LOG", "debug")
        .env_remove("MICA_ADMIN_TOKEN")
        .env_remove("MICA_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("host.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    loop {
        if let Some(answer) = http(port, health)
            && answer.starts_with("HTTP/1.1 200")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the host did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    let token_file = dir.path().join("admin-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(token.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let body = r#"{"id":"e1","type":"po_created","occurred_at":"2026-11-25T02:14:22Z","recipients":[{"email":"a@example.com"}],"data":{"po_id":"1","po_number":"PO-1","supplier":"ACME","amount":{"value":"1.00","currency":"CNY"},"url":"https://m.example.com/po/1"}}"#;
    let post = |auth: &str| {
        format!(
            "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    assert!(
        http(port, &post("wrong"))
            .unwrap()
            .starts_with("HTTP/1.1 401")
    );
    assert!(
        http(port, &post(token.trim()))
            .unwrap()
            .starts_with("HTTP/1.1 202")
    );

    // Secrets set through the admin API never reach a response or the log, even at debug level.
    let secret = "log-canary-secret-1d2c3b4a";
    let settings = format!(
        r#"{{"app_id":"cli_a1b2c3d4","app_secret":"{secret}","verification_token":"{secret}-vt","base_url":"http://127.0.0.1:1","enabled":true}}"#
    );
    let request = |method: &str, path: &str, body: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
    };
    let answers = [
        http(
            port,
            &request("PUT", "/api/v1/admin/feishu/settings", &settings),
        )
        .unwrap(),
        http(port, &request("GET", "/api/v1/admin/feishu/settings", "")).unwrap(),
        http(port, &request("POST", "/api/v1/admin/feishu/test", "")).unwrap(),
    ];
    assert!(answers[0].starts_with("HTTP/1.1 200"), "{}", answers[0]);
    assert!(answers[2].starts_with("HTTP/1.1 422"), "{}", answers[2]);
    for answer in &answers {
        assert!(!answer.contains(secret), "{answer}");
    }
    // A delivery attempt runs with the secret too (the event above, now enabled).
    std::thread::sleep(Duration::from_millis(1500));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the host did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("host.log")).unwrap();
    assert!(log.contains("settings updated"), "the log was captured");
    assert!(!log.contains(secret), "a secret reached the log");
}

#[test]
fn rotating_the_key_keeps_every_secret_readable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wasm = plugin_wasm();
    let install = host(
        d,
        &["plugin", "install", wasm.to_str().unwrap(), "--activate"],
    );
    assert!(install.status.success());
    let set = host(
        d,
        &[
            "param",
            "set",
            "auth.feishu.app_secret",
            "rotating-secret-77",
        ],
    );
    assert!(set.status.success());
    let old_key = std::fs::read_to_string(d.join("secret.key")).unwrap();
    let rotate = host(d, &["secrets", "rotate-key"]);
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    let new_key = std::fs::read_to_string(d.join("secret.key")).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!d.join("secret.key.new").exists());
    let got = host(d, &["param", "get", "auth.feishu.app_secret"]);
    assert_eq!(stdout(&got), "(secret: set)", "{}", stderr(&got));
    // The value is sealed with the new key now: the old key alone cannot open it.
    std::fs::write(d.join("secret.key"), &old_key).unwrap();
    let with_old = host(d, &["param", "get", "auth.feishu.app_secret"]);
    assert!(!with_old.status.success());
    assert!(
        stderr(&with_old).contains("which this host does not have"),
        "{}",
        stderr(&with_old)
    );
}

/// A secret never has to be an argument: `param set KEY -` reads stdin, `--from-file` a file
/// (their trailing newline dropped), and an argument still works but is warned about.
#[test]
fn secrets_are_set_from_stdin_or_a_file() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stored = |d: &Path| {
        let sealer = mica_host::store::Sealer::load(d, None).unwrap();
        let store = mica_host::store::Store::open(&d.join("mica-host.db"), sealer).unwrap();
        store
            .param_values(&["auth.feishu.app_secret".to_string()])
            .unwrap()["auth.feishu.app_secret"]
            .clone()
    };
    let file = d.join("app-secret.txt");
    std::fs::write(&file, "from-a-file-123\n").unwrap();
    let set = host(
        d,
        &[
            "param",
            "set",
            "auth.feishu.app_secret",
            "--from-file",
            file.to_str().unwrap(),
        ],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(!stderr(&set).contains("warning"), "{}", stderr(&set));
    assert_eq!(stored(d), "from-a-file-123");

    let mut child = Command::new(env!("CARGO_BIN_EXE_mica-host"))
        .arg("--data-dir")
        .arg(d)
        .args(["param", "set", "auth.feishu.app_secret", "-"])
        .env_remove("MICA_ADMIN_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin-456\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored(d), "from-stdin-456");

    let argv = host(
        d,
        &[
            "param",
            "set",
            "auth.feishu.app_secret",
            "on-the-command-line",
        ],
    );
    assert!(argv.status.success());
    assert!(
        stderr(&argv).contains("was given as an argument"),
        "{}",
        stderr(&argv)
    );
    assert!(!stderr(&argv).contains("on-the-command-line"));
}
