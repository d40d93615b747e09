//! The parts of AWS Signature Version 4 that S3's POST policies and presigned URLs
//! share: the credential scope, the signing key and the timestamps.

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a request is signed with: the function role's temporary credentials in Lambda
/// (with a session token), or long-lived keys elsewhere.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    /// These credentials as the SigV4 signer takes them.
    pub fn identity(&self) -> aws_smithy_runtime_api::client::identity::Identity {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "supportzen",
        )
        .into()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// `time` as SigV4 writes it: `(YYYYMMDD, YYYYMMDDTHHMMSSZ)`, in UTC.
pub fn utc_stamp(time: SystemTime) -> (String, String) {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days as i64);
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    (date, stamp)
}

/// `time` as ISO 8601 with milliseconds, as a POST policy's `expiration` wants it.
pub fn iso8601_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let (_, stamp) = utc_stamp(time);
    format!(
        "{}-{}-{}T{}:{}:{}.{:03}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15],
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `<date>/<region>/s3/aws4_request`.
pub fn scope(date: &str, region: &str) -> String {
    format!("{date}/{region}/s3/aws4_request")
}

/// The hex HMAC-SHA256 of `string_to_sign` under the day's S3 signing key for `region`
/// (`time` gives the day).
pub fn signature(secret: &str, time: SystemTime, region: &str, string_to_sign: &[u8]) -> String {
    calculate_signature(
        generate_signing_key(secret, time, region, "s3"),
        string_to_sign,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_in_sigv4s_format() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(
            utc_stamp(at(0)),
            ("19700101".into(), "19700101T000000Z".into())
        );
        // AWS's POST example: 2015-12-29, and a leap day and a year's last second.
        assert_eq!(utc_stamp(at(1_451_347_200)).1, "20151229T000000Z");
        assert_eq!(utc_stamp(at(1_709_164_800 + 3_661)).1, "20240229T010101Z");
        assert_eq!(utc_stamp(at(1_767_225_599)).1, "20251231T235959Z");
        assert_eq!(
            iso8601_millis(at(1_451_476_800) + Duration::from_millis(7)),
            "2015-12-30T12:00:00.007Z"
        );
    }

    #[test]
    fn the_signing_key_is_the_one_aws_documents() {
        // AWS's "Examples of how to derive a signing key for Signature Version 4": the
        // example secret, 2012-02-15, us-east-1, IAM.
        let key = generate_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            UNIX_EPOCH + Duration::from_secs(1_329_264_000),
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(
            scope("20120215", "us-east-1"),
            "20120215/us-east-1/s3/aws4_request"
        );
    }
}
