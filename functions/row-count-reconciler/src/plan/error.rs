//! Why planning could not prepare a side's count: the side's `error` in the run's results.

use lakeops::LakeopsError;

use crate::catalog::CatalogError;
use crate::template::TemplateError;

/// Why a side cannot be counted, found while planning. It names the field of the check it came
/// from (`partition.dt`, `window.day`, `filter`, `sql`) or the location looked at; the report
/// already names the check, the side and the table. It becomes the side's `error` and never
/// fails the run by itself (an Iceberg side's fallback reasons are
/// [`crate::iceberg::IcebergError`]).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `field` is the side's field as the checks file names it.
    #[error("{field}: {source}")]
    Template {
        field: String,
        source: TemplateError,
    },
    #[error("partition {key} ({column_type}): {source}")]
    PartitionValue {
        key: String,
        column_type: String,
        source: CatalogError,
    },
    #[error("window.day {text:?} is not a date (YYYY-MM-DD)")]
    WindowDay { text: String },
    #[error("partition projection: {0}")]
    Projection(CatalogError),
    #[error("partition location {location:?} is not an s3:// URI")]
    NotS3Location { location: String },
    /// Glue or S3 failed while looking for the expected partition.
    #[error(transparent)]
    Aws(#[from] LakeopsError),
}

impl PlanError {
    /// A template of the side's `field` that did not render.
    pub fn template(field: impl Into<String>) -> impl FnOnce(TemplateError) -> Self {
        let field = field.into();
        move |source| PlanError::Template { field, source }
    }
}
