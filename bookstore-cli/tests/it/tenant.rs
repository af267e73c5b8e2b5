//! `bookstore tenant add|list` on the local stage.

use crate::server::{Server, client, login, run, temp_dir};

#[tokio::test]
async fn tenant_add_prints_a_one_time_password_that_signs_the_admin_in() {
    let dir = temp_dir("tenant");
    let data_dir = dir.to_str().expect("utf-8 path");
    let added = run(&[
        "tenant",
        "add",
        "nueva-tienda",
        "--admin-email",
        "Jefa@Tienda.example",
        "--data-dir",
        data_dir,
        "--output",
        "json",
    ]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&added.stdout).expect("json output");
    let password = printed["one_time_password"].as_str().expect("password").to_owned();
    assert_eq!(printed["admin_email"], "jefa@tienda.example");

    let again = run(&["tenant", "add", "nueva-tienda", "--admin-email", "x@y.example", "--data-dir", data_dir]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let listed = run(&["tenant", "list", "--data-dir", data_dir]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("nueva-tienda\tnueva-tienda\tactive"));

    let server = Server::start(&dir, &[]);
    let token = login(&client(), &server.url, "nueva-tienda", "jefa@tienda.example", &password).await;
    let profile: serde_json::Value = client()
        .get(format!("{}/api/v1/users/profile", server.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("profile")
        .json()
        .await
        .expect("json");
    assert_eq!(profile["role"], "admin");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tenant_add_names_the_bad_argument() {
    let dir = temp_dir("tenant-bad");
    let data_dir = dir.to_str().expect("utf-8 path");
    let bad_id = run(&["tenant", "add", "Bad#Id", "--admin-email", "a@b.example", "--data-dir", data_dir]);
    assert_eq!(bad_id.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_id.stderr).contains("<tenant>"));
    let bad_email = run(&["tenant", "add", "good-id", "--admin-email", "nope", "--data-dir", data_dir]);
    assert!(String::from_utf8_lossy(&bad_email.stderr).contains("--admin-email"));
    let missing = run(&["tenant", "add", "good-id", "--data-dir", data_dir]);
    assert_eq!(missing.status.code(), Some(2), "clap reports a missing flag as usage");
    let _ = std::fs::remove_dir_all(dir);
}
