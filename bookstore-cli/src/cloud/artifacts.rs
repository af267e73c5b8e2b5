//! The artifacts bucket: Lambda zips and rendered templates, stored under their content
//! hash, so a second deploy of the same bytes uploads nothing.

use anyhow::{Result, anyhow, bail};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use sha2::{Digest, Sha256};

use super::{Clients, describe_sdk_error};
use crate::package::{Package, hex};

/// Creates the bucket (encrypted, public access blocked) unless it exists.
pub async fn ensure_bucket(clients: &Clients, bucket: &str) -> Result<()> {
    if clients.s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut create = clients.s3.create_bucket().bucket(bucket);
    if clients.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(clients.region.as_str()))
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|err| anyhow!("cannot create artifacts bucket {bucket}: {}", describe_sdk_error(&err)))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?,
                )
                .build(),
        )
        .build()?;
    clients
        .s3
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|err| anyhow!("cannot encrypt artifacts bucket {bucket}: {}", describe_sdk_error(&err)))?;
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    clients
        .s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .map_err(|err| anyhow!("cannot block public access on {bucket}: {}", describe_sdk_error(&err)))?;
    eprintln!("created artifacts bucket {bucket}");
    Ok(())
}

/// Whether a new stack creates its lake bucket or adopts the one an earlier `destroy`
/// kept (the bucket's name is fixed by the stage prefix and the account).
pub async fn lake_bucket_mode(clients: &Clients, stage: &crate::stage::Stage) -> Result<&'static str> {
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| anyhow!("cannot tell which AWS account this is: {}", describe_sdk_error(&err)))?;
    let account = identity.account().unwrap_or_default();
    let bucket = stage.lake_bucket(account);
    if clients.s3.head_bucket().bucket(&bucket).send().await.is_ok() {
        eprintln!("adopting lake bucket {bucket}, kept by an earlier destroy of this stage");
        return Ok("adopt");
    }
    Ok("create")
}

/// Uploads each zip unless the bucket already holds it; returns how many were uploaded.
pub async fn upload_packages(clients: &Clients, bucket: &str, packages: &[Package]) -> Result<usize> {
    let mut uploaded = 0;
    for package in packages {
        let key = package.s3_key();
        if clients.s3.head_object().bucket(bucket).key(&key).send().await.is_ok() {
            continue;
        }
        let body = ByteStream::from_path(&package.path)
            .await
            .map_err(|err| anyhow!("cannot read {}: {err}", package.path.display()))?;
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(body)
            .send()
            .await
            .map_err(|err| anyhow!("cannot upload s3://{bucket}/{key}: {}", describe_sdk_error(&err)))?;
        eprintln!("uploaded {} ({} bytes) to s3://{bucket}/{key}", package.path.display(), package.bytes);
        uploaded += 1;
    }
    Ok(uploaded)
}

/// Stores a template and returns the URL CloudFormation reads it from (templates given
/// inline are limited to 51,200 bytes; by URL, to 1 MB).
pub async fn upload_template(clients: &Clients, bucket: &str, stack: &str, yaml: &str) -> Result<String> {
    let key = format!("templates/{stack}/{}.yaml", hex(&Sha256::digest(yaml.as_bytes())));
    if clients.s3.head_object().bucket(bucket).key(&key).send().await.is_err() {
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/x-yaml")
            .body(ByteStream::from(yaml.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|err| {
                anyhow!("cannot upload the template to s3://{bucket}/{key}: {}", describe_sdk_error(&err))
            })?;
    }
    Ok(format!("https://{bucket}.s3.{}.amazonaws.com/{key}", clients.region))
}

/// Empties and deletes a bucket (for `destroy --purge`). A missing bucket is not an error.
pub async fn delete_bucket(clients: &Clients, bucket: &str) -> Result<()> {
    if clients.s3.head_bucket().bucket(bucket).send().await.is_err() {
        return Ok(());
    }
    empty_bucket(clients, bucket).await?;
    clients
        .s3
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| anyhow!("cannot delete bucket {bucket}: {}", describe_sdk_error(&err)))?;
    Ok(())
}

/// Deletes every object in a bucket, every version and delete marker included (the lake
/// and results buckets are versioned), a thousand per request; a missing bucket is
/// already empty.
pub async fn empty_bucket(clients: &Clients, bucket: &str) -> Result<()> {
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = match clients
            .s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
        {
            Ok(page) => page,
            Err(err) if describe_sdk_error(&err).contains("NoSuchBucket") => return Ok(()),
            Err(err) => bail!("cannot list the versions in s3://{bucket}: {}", describe_sdk_error(&err)),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let objects = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .set_key(key.map(str::to_owned))
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if !objects.is_empty() {
            let count = objects.len();
            let delete = Delete::builder().set_objects(Some(objects)).quiet(true).build()?;
            let answer = clients.s3.delete_objects().bucket(bucket).delete(delete).send().await.map_err(|err| {
                anyhow!("cannot delete {count} objects in s3://{bucket}: {}", describe_sdk_error(&err))
            })?;
            if let Some(failed) = answer.errors().first() {
                bail!(
                    "cannot delete s3://{bucket}/{}: {}",
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                );
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
}
