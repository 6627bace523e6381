//! The pure decisions of the store, kept out of the SQL so that they are unit-tested on their
//! own: duplicates inside one upload, the outcome of an upload, download-batch packing and tags.

use std::collections::HashSet;

use herald_model::BatchTag;

use super::{StoreError, UploadMode, UploadOutcome};

/// For each key of an upload, whether it is the first with its payload hash. Later repeats are
/// duplicates of "an earlier key of the same upload" (§5.2) and are never inserted.
pub(crate) fn first_occurrences(hashes: &[[u8; 32]]) -> Vec<bool> {
    let mut seen = HashSet::with_capacity(hashes.len());
    hashes.iter().map(|hash| seen.insert(hash)).collect()
}

/// The positions to insert, ordered by payload hash. Every upload takes its key locks in this
/// one global order, so two concurrent uploads sharing keys cannot deadlock on PostgreSQL.
pub(crate) fn insertion_order(hashes: &[[u8; 32]], first: &[bool]) -> Vec<usize> {
    let mut order: Vec<(&[u8; 32], usize)> = hashes
        .iter()
        .zip(first)
        .enumerate()
        .filter(|(_, (_, first))| **first)
        .map(|(position, (hash, _))| (hash, position))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, position)| position).collect()
}

/// The outcome of an upload whose tag was free, given which keys were inserted; and whether to
/// commit.
pub(crate) fn upload_outcome(inserted: &[bool], mode: UploadMode) -> (UploadOutcome, bool) {
    let (stored, duplicate): (Vec<usize>, Vec<usize>) =
        (0..inserted.len()).partition(|&i| inserted.get(i).copied().unwrap_or(false));
    if duplicate.is_empty() {
        return (UploadOutcome::Stored { keys: stored.len() }, true);
    }
    match mode {
        UploadMode::AllOrNothing => {
            (UploadOutcome::Duplicates { insertable: stored, duplicate }, false)
        }
        UploadMode::StoreValid => (UploadOutcome::PartiallyStored { stored, duplicate }, true),
    }
}

/// How many of the oldest pending uploads (their key counts, oldest first) form the next
/// download batch: the oldest always, then the following ones while the total stays within
/// `max_keys`. It stops at the first upload that does not fit, so uploads stay in order.
pub(crate) fn pack(counts: &[u64], max_keys: u64) -> usize {
    let mut total = 0u64;
    let mut taken = 0usize;
    for &count in counts {
        // A total that overflows does not fit either.
        let next = total.checked_add(count).filter(|&next| next <= max_keys);
        match next {
            Some(next) => total = next,
            None if taken == 0 => total = count,
            None => break,
        }
        taken += 1;
    }
    taken
}

/// The download-batch tag `yyyyMMdd-N` for UTC day number `day` (days since 1970-01-01).
pub(crate) fn download_tag(day: i64, n: i64) -> Result<BatchTag, StoreError> {
    let date = herald_model::Date::of(herald_model::UnixTime(day.saturating_mul(86_400)));
    let n = u64::try_from(n).map_err(|_| StoreError::invariant("download_tag", "negative N"))?;
    Ok(BatchTag::download(date, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_utc_dates() {
        assert_eq!(download_tag(0, 1).unwrap(), "19700101-1");
        assert_eq!(download_tag(18_474, 3).unwrap(), "20200731-3");
        assert_eq!(download_tag(18_321, 1).unwrap(), "20200229-1");
        assert_eq!(download_tag(18_322, 1).unwrap(), "20200301-1");
        assert_eq!(download_tag(10_956, 12).unwrap(), "19991231-12");
        assert_eq!(download_tag(10_957, 1).unwrap(), "20000101-1");
        assert_eq!(download_tag(-1, 1).unwrap(), "19691231-1");
        // Every day of 400 years is one more than the day before.
        let civil_from_days = |day| {
            let date = herald_model::Date::from_utc_day(day).unwrap();
            (i64::from(date.year()), i64::from(date.month()), i64::from(date.day()))
        };
        let mut previous = civil_from_days(-1);
        for day in 0..146_097 {
            let (y, m, d) = civil_from_days(day);
            let next_ok = (y, m, d - 1) == previous
                || (d == 1 && (m, y) == (previous.1 + 1, previous.0))
                || (d == 1 && m == 1 && y == previous.0 + 1);
            assert!(next_ok, "day {day}: {previous:?} -> {:?}", (y, m, d));
            previous = (y, m, d);
        }
    }

    #[test]
    fn packing_keeps_uploads_whole_and_in_order() {
        assert_eq!(pack(&[], 5), 0);
        assert_eq!(pack(&[3, 4, 2], 5), 1);
        assert_eq!(pack(&[2, 3, 1], 5), 2);
        assert_eq!(pack(&[9, 1], 5), 1);
        assert_eq!(pack(&[1, 9, 1], 5), 1);
        assert_eq!(pack(&[1, 1, 1], 0), 1);
        assert_eq!(pack(&[u64::MAX - 1, 1, 1], u64::MAX), 2);
    }

    #[test]
    fn duplicates_inside_an_upload() {
        let h = |b: u8| [b; 32];
        let hashes = [h(5), h(1), h(5), h(3), h(1)];
        let first = first_occurrences(&hashes);
        assert_eq!(first, [true, true, false, true, false]);
        assert_eq!(insertion_order(&hashes, &first), [1, 3, 0]);
    }

    #[test]
    fn outcomes() {
        use UploadMode::{AllOrNothing, StoreValid};
        assert_eq!(upload_outcome(&[], AllOrNothing), (UploadOutcome::Stored { keys: 0 }, true));
        assert_eq!(
            upload_outcome(&[true, true], StoreValid),
            (UploadOutcome::Stored { keys: 2 }, true)
        );
        assert_eq!(
            upload_outcome(&[true, false, true], AllOrNothing),
            (UploadOutcome::Duplicates { insertable: vec![0, 2], duplicate: vec![1] }, false)
        );
        assert_eq!(
            upload_outcome(&[false, true], StoreValid),
            (UploadOutcome::PartiallyStored { stored: vec![1], duplicate: vec![0] }, true)
        );
    }
}
