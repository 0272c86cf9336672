//! aide-bundle: the runner-side cache of task bundles (ARCHITECTURE §9). A bundle is an
//! [`aide_core::bundle::Manifest`] named by its digest; its files are blobs named by sha256.
//! A [`BundleCache`] fetches the blobs a manifest lists from a [`BlobSource`] (the
//! coordinator over gRPC, [`GrpcBlobSource`], or a directory, [`DirBlobSource`]), verifies
//! each one, stores it once, and presents the bundle as a directory of hard links that a
//! sandbox under another uid can read. Whole bundles are evicted least recently used first
//! beyond a size bound, never while a [`BundleLease`] holds them.
//!
//! On disk, under the cache directory:
//! - `blobs/<aa>/<hex>`: a blob, mode 0444; `blobs/<aa>/<hex>.x`, mode 0555, when a bundle
//!   lists the same bytes as executable (hard links share one mode, so the two are separate
//!   files);
//! - `bundles/<hex>/`: a bundle's tree, directories 0755, files hard links to blobs; its mtime
//!   is the bundle's last use;
//! - `tmp/`: files being fetched and trees being built, emptied at every [`BundleCache::open`];
//! - `lock`: held by the one process using the cache.

mod cache;
mod coalesce;
mod error;
mod evict;
mod fetch;
mod layout;
pub mod push;
mod source;
mod tree;
mod verify;

pub use cache::{BundleCache, BundleLease, CacheConfig, CacheLookups};
pub use error::{Error, Result};
pub use source::{BlobSource, BlobStream, DirBlobSource, GrpcBlobSource, SourceError};
