//! Domain types of herald: the values every other crate passes around.
//!
//! Every type here *parses* its input: a value that exists is valid. Constructors return
//! [`ModelError`] naming what was wrong, interval arithmetic is checked, and types that carry
//! secrets zeroize on drop and redact themselves in `Debug`.
//!
//! This crate deliberately has no I/O, no clock reads and no randomness of its own: time arrives
//! through [`Clock`], randomness through the caller.
//!
//! # Layout
//! - `date`: [`Date`] and [`Zone`] (calendar dates and time zones on `jiff`), timestamp texts.
//! - `time`: [`UnixTime`], [`IntervalNumber`] (ENIN), [`RollingPeriod`], [`Clock`], [`FixedClock`].
//! - `key`: [`TemporaryExposureKey`], [`DiagnosisKey`], [`TransmissionRiskLevel`].
//! - `report`: [`ReportType`], [`DaysSinceOnset`].
//! - `batch`: [`BatchTag`] (EFGS upload and download-batch tags).
//! - `cert`: [`CertThumbprint`].
//! - `country`: [`CountryCode`].
//! - `error`: [`ModelError`].

pub mod batch;
pub mod cert;
pub mod country;
pub mod date;
pub mod error;
pub mod key;
pub mod report;
pub mod time;

pub use batch::BatchTag;
pub use cert::CertThumbprint;
pub use country::CountryCode;
pub use date::{Date, Zone};
pub use error::ModelError;
pub use key::{DiagnosisKey, TemporaryExposureKey, TransmissionRiskLevel};
pub use report::{DaysSinceOnset, ReportType};
pub use time::{Clock, FixedClock, IntervalNumber, ManualClock, RollingPeriod, UnixTime};
