//! Connecting to the search host's Docker API: `DOCKER_HOST` as Docker's own tools read
//! it, or TCP with mutual TLS from PEM material (the stage keeps it in SSM).

use std::path::Path;

use bollard::{API_DEFAULT_VERSION, Docker};

use super::HostError;

/// The client's TLS material, PEM-encoded.
pub struct ClientTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

const TIMEOUT_SECONDS: u64 = 30;

fn failed(endpoint: &str, reason: impl std::fmt::Display) -> HostError {
    HostError::Docker { endpoint: endpoint.to_owned(), reason: reason.to_string() }
}

/// `DOCKER_HOST` (`unix://…`, `tcp://…`; with `DOCKER_CERT_PATH`/`DOCKER_TLS_VERIFY` for TLS).
pub fn from_environment() -> Result<(Docker, String), HostError> {
    let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let docker = Docker::connect_with_defaults().map_err(|err| failed(&endpoint, err))?;
    Ok((docker, endpoint))
}

/// `tcp://HOST:2376` with the client certificate in `tls`; the PEMs go to a private
/// temporary directory for as long as bollard reads them.
pub fn with_tls(address: &str, tls: &ClientTls) -> Result<(Docker, String), HostError> {
    let endpoint = format!("tcp://{address}");
    let dir = std::env::temp_dir().join(format!("bookstore-docker-tls-{}", uuid::Uuid::new_v4()));
    let write = |name: &str, pem: &str| -> std::io::Result<std::path::PathBuf> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        options.open(&path)?.write_all(pem.as_bytes())?;
        Ok(path)
    };
    let connect = || -> Result<Docker, HostError> {
        std::fs::create_dir_all(&dir).map_err(|err| failed(&endpoint, err))?;
        let ca = write("ca.pem", &tls.ca).map_err(|err| failed(&endpoint, err))?;
        let cert = write("cert.pem", &tls.cert).map_err(|err| failed(&endpoint, err))?;
        let key = write("key.pem", &tls.key).map_err(|err| failed(&endpoint, err))?;
        connect_with_files(address, &key, &cert, &ca).map_err(|err| failed(&endpoint, err))
    };
    let result = connect();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((result?, endpoint))
}

fn connect_with_files(address: &str, key: &Path, cert: &Path, ca: &Path) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_ssl(address, key, cert, ca, TIMEOUT_SECONDS, API_DEFAULT_VERSION)
}
