//! The lake's objects in an S3 bucket (`LakeObjects`): whole-object puts (S3 replaces an
//! object at once, so a reader never sees half a batch), listings page by page, deletes
//! a thousand keys a call. Calls are counted, for the lake's request-cost benchmark.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier};

use super::store::chain;
use crate::lake::{LakeError, LakeObject, LakeObjects};

/// S3 takes at most this many keys per `DeleteObjects`.
const KEYS_PER_DELETE: usize = 1000;

/// Requests made since the adapter was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S3Requests {
    pub puts: u64,
    pub gets: u64,
    pub lists: u64,
    pub deletes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    puts: AtomicU64,
    gets: AtomicU64,
    lists: AtomicU64,
    deletes: AtomicU64,
}

/// One bucket of the lake.
pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
    endpoint: String,
    counters: Counters,
}

impl S3Objects {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, endpoint: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into(), endpoint: endpoint.into(), counters: Counters::default() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn requests(&self) -> S3Requests {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        S3Requests {
            puts: read(&self.counters.puts),
            gets: read(&self.counters.gets),
            lists: read(&self.counters.lists),
            deletes: read(&self.counters.deletes),
        }
    }

    /// Creates the bucket when it is missing (on an emulator; on AWS the stack owns it).
    /// Answers whether it was created.
    pub async fn create_if_missing(&self, region: &str) -> Result<bool, LakeError> {
        if self.client.head_bucket().bucket(&self.bucket).send().await.is_ok() {
            return Ok(false);
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that takes no location constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => Ok(true),
            Err(err) if matches!(err.code(), Some("BucketAlreadyOwnedByYou")) => Ok(false),
            Err(err) => Err(self.failure("CreateBucket", "", &err)),
        }
    }

    fn failure<E>(&self, call: &str, key: &str, err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> LakeError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let at = format!("s3://{}/{key}", self.bucket);
        LakeError::Unavailable(match err.code() {
            Some(code) => format!("{call} {at} at {}: {code}: {}", self.endpoint, err.message().unwrap_or_default()),
            None => format!("cannot reach S3 at {} for {call} {at}: {}", self.endpoint, chain(err)),
        })
    }
}

#[async_trait::async_trait]
impl LakeObjects for S3Objects {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), LakeError> {
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| self.failure("PutObject", key, &err))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, LakeError> {
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(err) => return Err(self.failure("GetObject", key, &err)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|err| LakeError::Unavailable(format!("s3://{}/{key}: {err}", self.bucket)))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<LakeObject>, LakeError> {
        let mut found = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        loop {
            self.counters.lists.fetch_add(1, Ordering::Relaxed);
            let Some(page) = pages.next().await else { break };
            let page = page.map_err(|err| self.failure("ListObjectsV2", prefix, &err))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    let size = u64::try_from(object.size().unwrap_or(0)).unwrap_or(0);
                    found.push(LakeObject { key: key.to_owned(), size });
                }
            }
        }
        // S3 lists in UTF-8 byte order already; an emulator may not.
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, LakeError> {
        let mut found = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).delimiter("/").into_paginator().send();
        loop {
            self.counters.lists.fetch_add(1, Ordering::Relaxed);
            let Some(page) = pages.next().await else { break };
            let page = page.map_err(|err| self.failure("ListObjectsV2", prefix, &err))?;
            for common in page.common_prefixes() {
                let name = common.prefix().and_then(|p| p.strip_prefix(prefix)).and_then(|p| p.strip_suffix('/'));
                if let Some(name) = name.filter(|name| !name.is_empty()) {
                    found.push(name.to_owned());
                }
            }
        }
        found.sort();
        Ok(found)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), LakeError> {
        for chunk in keys.chunks(KEYS_PER_DELETE) {
            self.counters.deletes.fetch_add(1, Ordering::Relaxed);
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| LakeError::Unavailable(format!("a key to delete: {err}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|err| LakeError::Unavailable(format!("a delete request: {err}")))?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| self.failure("DeleteObjects", chunk[0].as_str(), &err))?;
            if let Some(error) = output.errors().first() {
                return Err(LakeError::Unavailable(format!(
                    "DeleteObjects s3://{}/{}: {}: {}",
                    self.bucket,
                    error.key().unwrap_or_default(),
                    error.code().unwrap_or_default(),
                    error.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
