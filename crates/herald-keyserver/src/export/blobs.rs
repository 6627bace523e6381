//! Where export files go: a local directory or an S3-compatible bucket, through `object_store`.

use std::path::Path;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt as _, PutOptions, PutPayload,
};

/// Why an object could not be written, read or deleted.
#[derive(Debug, thiserror::Error)]
#[error("object store: {operation} {name}: {reason}")]
pub struct BlobError {
    /// `put`, `get`, `delete` or `open`.
    pub operation: &'static str,
    /// The object name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The export object store.
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Whether the backend keeps HTTP attributes (content type, cache control): S3 does, a
    /// local directory does not (its web server decides).
    attributes: bool,
    description: String,
}

impl Blobs {
    /// A local directory (created if missing).
    pub fn directory(dir: &Path) -> Result<Self, BlobError> {
        let err = |reason: String| BlobError {
            operation: "open",
            name: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            attributes: false,
            description: dir.display().to_string(),
        })
    }

    /// An S3-compatible bucket; credentials come from the standard AWS environment variables.
    /// An `http://` endpoint (a MinIO or other S3-compatible server inside the operator's
    /// network) is allowed because the operator wrote it so.
    pub fn s3(
        bucket: &str,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Result<Self, BlobError> {
        Self::s3_from(object_store::aws::AmazonS3Builder::from_env(), bucket, endpoint, region)
    }

    /// [`Blobs::s3`] with credentials and settings from `builder` instead of the environment.
    pub fn s3_from(
        builder: object_store::aws::AmazonS3Builder,
        bucket: &str,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Result<Self, BlobError> {
        let mut builder = builder.with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            builder =
                builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = region {
            builder = builder.with_region(region);
        }
        let store = builder.build().map_err(|e| BlobError {
            operation: "open",
            name: bucket.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self { store: Arc::new(store), attributes: true, description: format!("s3://{bucket}") })
    }

    /// Any `object_store` backend (tests use the in-memory one).
    pub fn custom(store: Arc<dyn ObjectStore>, description: &str) -> Self {
        Self { store, attributes: false, description: description.to_owned() }
    }

    /// Where the objects go, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Writes an object. Zips are immutable and cacheable for a day, the index is never cached
    /// (key-server.md §1.3).
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        let mut options = PutOptions::default();
        if self.attributes {
            let mut attributes = Attributes::new();
            let (content_type, cache) = if name.to_ascii_lowercase().ends_with(".zip") {
                ("application/zip", "public, max-age=86400")
            } else {
                ("text/plain", "no-cache, max-age=0")
            };
            attributes.insert(Attribute::ContentType, content_type.into());
            attributes.insert(Attribute::CacheControl, cache.into());
            options.attributes = attributes;
        }
        self.store
            .put_opts(&ObjectPath::from(name), PutPayload::from(bytes), options)
            .await
            .map(|_| ())
            .map_err(|e| BlobError {
                operation: "put",
                name: name.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Reads an object.
    pub async fn get(&self, name: &str) -> Result<Vec<u8>, BlobError> {
        let err = |e: object_store::Error| BlobError {
            operation: "get",
            name: name.to_owned(),
            reason: e.to_string(),
        };
        let result = self.store.get(&ObjectPath::from(name)).await.map_err(err)?;
        Ok(result.bytes().await.map_err(err)?.to_vec())
    }

    /// Whether an object exists (a metadata request, no download).
    pub async fn exists(&self, name: &str) -> Result<bool, BlobError> {
        match self.store.head(&ObjectPath::from(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => {
                Err(BlobError { operation: "head", name: name.to_owned(), reason: e.to_string() })
            }
        }
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, name: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => {
                Err(BlobError { operation: "delete", name: name.to_owned(), reason: e.to_string() })
            }
        }
    }
}
