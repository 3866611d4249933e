//! The client checks a server's certificate against the OS trust store (reqwest's rustls with
//! `rustls-platform-verifier`), as a browser does: an authority the machine trusts (a company
//! proxy's, added to the store) is trusted, and one it does not is refused.
//!
//! On Linux the store is the file OpenSSL's convention names, which `SSL_CERT_FILE` overrides for
//! one process: each case runs the client in a process of its own with its own store. The server
//! is `openssl s_server`, serving one file over real TLS with a certificate a throwaway authority
//! signed. (macOS, Windows and Android verify through their own APIs; not run here.)

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the child process is told the server is, and what it must see.
const URL: &str = "INKAN_TRUST_TEST_URL";
const EXPECT: &str = "INKAN_TRUST_TEST_EXPECT";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("the openssl command");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A certificate authority `name` (`name.pem`, `name.key`) in `dir`.
fn authority(dir: &Path, name: &str) {
    let subject = format!("/CN=Inkan test authority {name}");
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-subj",
            &subject,
        ],
    );
}

/// `openssl s_server` on `port`, serving `dir/www` with the certificate for `localhost` that the
/// authority `ca` signed; stopped when dropped.
struct TlsServer(Child);

impl TlsServer {
    fn start(dir: &Path, port: u16) -> TlsServer {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n").unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        let www = dir.join("www");
        std::fs::create_dir_all(www.join("v1")).unwrap();
        std::fs::write(www.join("v1/issuer-keys"), r#"{"keys":[]}"#).unwrap();
        let child = Command::new("openssl")
            .args(["s_server", "-WWW", "-quiet", "-accept", &port.to_string()])
            .arg("-cert")
            .arg(dir.join("server.pem"))
            .arg("-key")
            .arg(dir.join("server.key"))
            .current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "openssl s_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsServer(child)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs [`client_in_its_own_process`] with `store` as the OS trust store; whether it saw what it
/// was told to expect.
fn client_with_store(store: &Path, url: &str, expect: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "client_in_its_own_process", "--include-ignored", "--nocapture"])
        .env("SSL_CERT_FILE", store)
        .env_remove("SSL_CERT_DIR")
        .env(URL, url)
        .env(EXPECT, expect)
        .output()
        .unwrap()
}

#[test]
fn an_authority_in_the_os_trust_store_is_trusted_and_another_is_not() {
    let dir = tempfile::tempdir().unwrap();
    authority(dir.path(), "ca");
    authority(dir.path(), "other");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = TlsServer::start(dir.path(), port);
    let url = format!("https://localhost:{port}/");

    for (store, expect) in [("ca.pem", "trusted"), ("other.pem", "refused")] {
        let out = client_with_store(&dir.path().join(store), &url, expect);
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "with {store} in the store the client should have {expect}: {printed}");
        // The child really ran the check (a filter that matched nothing would pass too).
        assert!(printed.contains("1 passed"), "{printed}");
    }
}

/// The client's side, run by the test above in a process of its own (its `SSL_CERT_FILE` is the
/// OS store the verifier reads, once per process).
#[test]
#[ignore = "run by an_authority_in_the_os_trust_store_is_trusted_and_another_is_not, in a process of its own"]
fn client_in_its_own_process() {
    let url = std::env::var(URL).expect("run by the test above");
    let expect = std::env::var(EXPECT).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let api = inkan_client::api::Api::new(url::Url::parse(&url).unwrap()).unwrap();
    let answer = runtime.block_on(api.issuer_keys());
    match expect.as_str() {
        "trusted" => assert_eq!(answer.unwrap().keys.len(), 0),
        "refused" => {
            let error = format!("{:?}", answer.expect_err("a server whose authority the store lacks"));
            assert!(error.contains("UnknownIssuer") || error.contains("certificate"), "{error}");
        }
        other => panic!("{EXPECT}={other}"),
    }
}
