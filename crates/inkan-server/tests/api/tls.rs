//! PostgreSQL over TLS (issue 16): a managed PostgreSQL that requires TLS must be reachable, and
//! `verify-full` must refuse a server whose certificate another authority signed. The local
//! PostgreSQL is given a throwaway certificate authority and a server certificate for `localhost`
//! made here (with the `openssl` command), and reloads its configuration to serve them.

use std::path::{Path, PathBuf};
use std::process::Command;

use inkan_server::db::Db;
use inkan_testkit::{Backend, EmptyDatabase, postgres_admin_url};

/// Where the throwaway certificates live: readable by the `postgres` user, as the server needs.
const DIR: &str = "/var/lib/postgresql/inkan-test-tls";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("the openssl command");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A certificate authority in `dir` (`<name>.pem`, `<name>.key`).
fn authority(dir: &Path, name: &str) -> PathBuf {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let subject = format!("/CN=Inkan test authority {name}");
    openssl(
        &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"]
            .into_iter()
            .chain(["-keyout", &key, "-out", &pem, "-subj", &subject])
            .collect::<Vec<_>>(),
        dir,
    );
    dir.join(pem)
}

/// Makes the throwaway authority and a server certificate for `localhost` signed by it, and has
/// the local PostgreSQL serve them. The authority's certificate.
async fn serve_throwaway_certificate() -> PathBuf {
    let admin = postgres_admin_url();
    let host = url::Url::parse(&admin).unwrap().host_str().unwrap_or_default().to_owned();
    assert!(
        ["127.0.0.1", "localhost"].contains(&host.as_str()),
        "the TLS test configures the PostgreSQL of this machine; INKAN_TEST_POSTGRES_URL points at {host}"
    );
    let dir = Path::new(DIR);
    std::fs::create_dir_all(dir).unwrap();
    let ca = authority(dir, "ca");
    openssl(
        &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .into_iter()
            .chain(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"])
            .collect::<Vec<_>>(),
        dir,
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
            .into_iter()
            .chain(["-out", "server.crt", "-days", "30", "-extfile", "server.ext"])
            .collect::<Vec<_>>(),
        dir,
    );
    // The server reads its key as the `postgres` user, and refuses a key others may read.
    let owned = Command::new("chown").args(["-R", "postgres:postgres", DIR]).status().unwrap();
    assert!(owned.success(), "chown {DIR}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    for setting in [
        "ALTER SYSTEM SET ssl = on".to_owned(),
        format!("ALTER SYSTEM SET ssl_cert_file = '{DIR}/server.crt'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{DIR}/server.key'"),
    ] {
        conn.execute(setting.as_str()).await.unwrap();
    }
    let reloaded: bool = sqlx::query_scalar("SELECT pg_reload_conf()").fetch_one(&mut conn).await.unwrap();
    assert!(reloaded);
    conn.close().await.unwrap();
    ca
}

/// Whether the pool's connection is encrypted, as the server sees it.
async fn encrypted(db: &Db) -> bool {
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db.pool())
        .await
        .unwrap();
    ssl
}

#[tokio::test]
async fn postgres_over_tls_is_required_and_verified() {
    let ca = serve_throwaway_certificate().await;
    let database = EmptyDatabase::new(Backend::Postgres).await;
    let mut url = url::Url::parse(&database.url).unwrap();
    url.set_host(Some("localhost")).unwrap();
    let with = |query: &str| format!("{}?{query}", url.as_str().trim_end_matches('?'));
    let timeout = std::time::Duration::from_secs(10);

    // `sslmode=require`: encrypted, the certificate not checked (a managed database's default).
    let required = Db::connect(&with("sslmode=require"), timeout).await.unwrap();
    assert!(encrypted(&required).await, "sslmode=require connected in the clear");
    required.pool().close().await;

    // `verify-full` with the authority's certificate: encrypted, and the server proved who it is.
    let verified = Db::connect(&with(&format!("sslmode=verify-full&sslrootcert={}", ca.display())), timeout).await;
    let verified = verified.unwrap_or_else(|e| panic!("verify-full with the right authority: {e:#}"));
    assert!(encrypted(&verified).await);
    verified.pool().close().await;

    // Another authority: refused, so a server in the middle cannot pose as the database.
    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = authority(elsewhere.path(), "stranger");
    let refused = Db::connect(&with(&format!("sslmode=verify-full&sslrootcert={}", stranger.display())), timeout).await;
    assert!(refused.is_err(), "verify-full accepted a certificate another authority signed");

    database.remove().await;
}
