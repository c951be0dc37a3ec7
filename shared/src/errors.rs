//! Every error code the API answers with: its wire string and its HTTP status in
//! one place. The server builds its errors from these; the widget reads them back
//! with [`ErrorCode::from_wire`]; nothing compares a code's text.
//!
//! A wire string may stand for two variants when the same code has been answered
//! with two statuses (a malformed body's `missing_field` is 400, a field a rule
//! requires is 422): the variants keep each status fixed without changing what
//! API users see.

macro_rules! codes {
    ($($variant:ident = ($wire:literal, $status:literal),)*) => {
        /// A stable error code (DESIGN.md §3 Errors).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// Every code, in wire-string order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears in `{"error":{"code":…}}`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire,)* }
            }

            /// The HTTP status every answer with this code has.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }
        }
    };
}

codes! {
    AccountLocked = ("account_locked", 429),
    AchFileNotFound = ("ach_file_not_found", 404),
    AchNotConfigured = ("ach_not_configured", 409),
    AmountBelowFee = ("amount_below_fee", 422),
    AppInsufficientFunds = ("app_insufficient_funds", 409),
    AppNotFound = ("app_not_found", 404),
    AppSuspended = ("app_suspended", 403),
    BalanceLimitExceeded = ("balance_limit_exceeded", 409),
    BatchItemsRefused = ("batch_items_refused", 422),
    BatchNotFound = ("batch_not_found", 404),
    BodyTimeout = ("body_timeout", 408),
    BodyTooLarge = ("body_too_large", 413),
    ClaimRequired = ("claim_required", 409),
    CodeAlreadyUsed = ("code_already_used", 409),
    CodeExpired = ("code_expired", 422),
    ComplianceRequired = ("compliance_required", 409),
    CrossSiteRequest = ("cross_site_request", 403),
    CsrfTokenInvalid = ("csrf_token_invalid", 403),
    CurrencyMismatch = ("currency_mismatch", 422),
    DuplicateField = ("duplicate_field", 422),
    EventNotFound = ("event_not_found", 404),
    FlowIncomplete = ("flow_incomplete", 409),
    FundingAccountNotFound = ("funding_account_not_found", 404),
    FundingAccountRequired = ("funding_account_required", 409),
    FundingAccountUnverified = ("funding_account_unverified", 409),
    FlowNotFound = ("flow_not_found", 404),
    FlowPayoutMade = ("flow_payout_made", 409),
    IdempotencyKeyReused = ("idempotency_key_reused", 409),
    InsufficientFunds = ("insufficient_funds", 409),
    InsufficientRole = ("insufficient_role", 403),
    InternalError = ("internal_error", 500),
    InvalidAccountNumber = ("invalid_account_number", 422),
    InvalidAccountType = ("invalid_account_type", 422),
    InvalidAddress = ("invalid_address", 422),
    InvalidAmount = ("invalid_amount", 422),
    InvalidBatch = ("invalid_batch", 422),
    InvalidBody = ("invalid_body", 400),
    InvalidBrand = ("invalid_brand", 422),
    InvalidCode = ("invalid_code", 422),
    InvalidCountryCode = ("invalid_country_code", 422),
    InvalidCredentials = ("invalid_credentials", 401),
    InvalidCurrency = ("invalid_currency", 422),
    InvalidCursor = ("invalid_cursor", 400),
    InvalidDateOfBirth = ("invalid_date_of_birth", 422),
    InvalidDelivery = ("invalid_delivery", 422),
    InvalidDescription = ("invalid_description", 422),
    InvalidDirection = ("invalid_direction", 422),
    InvalidEmail = ("invalid_email", 422),
    InvalidEvents = ("invalid_events", 422),
    InvalidExpiresAt = ("invalid_expires_at", 422),
    BodyInvalidField = ("invalid_field", 400),
    InvalidField = ("invalid_field", 422),
    InvalidFeeParty = ("invalid_fee_party", 422),
    InvalidFeeSchedule = ("invalid_fee_schedule", 422),
    InvalidGraceSeconds = ("invalid_grace_seconds", 422),
    InvalidHeader = ("invalid_header", 400),
    InvalidIdempotencyKey = ("invalid_idempotency_key", 400),
    InvalidJson = ("invalid_json", 400),
    InvalidMemo = ("invalid_memo", 422),
    InvalidMetadata = ("invalid_metadata", 422),
    InvalidName = ("invalid_name", 422),
    InvalidOrigin = ("invalid_origin", 422),
    InvalidOverlap = ("invalid_overlap", 422),
    InvalidPhoneNumber = ("invalid_phone_number", 422),
    InvalidQuery = ("invalid_query", 400),
    InvalidRedirectUrl = ("invalid_redirect_url", 422),
    InvalidRoutingNumber = ("invalid_routing_number", 422),
    InvalidSession = ("invalid_session", 401),
    InvalidStatus = ("invalid_status", 422),
    InvalidSteps = ("invalid_steps", 422),
    InvalidString = ("invalid_string", 422),
    InvalidTaxId = ("invalid_tax_id", 422),
    InvalidTransition = ("invalid_transition", 409),
    InvalidType = ("invalid_type", 422),
    InvitationInvalid = ("invitation_invalid", 404),
    LiveAppsOnly = ("live_apps_only", 409),
    LiveModeNotReady = ("live_mode_not_ready", 409),
    LastOwner = ("last_owner", 409),
    MemberExists = ("member_exists", 409),
    MemberNotFound = ("member_not_found", 404),
    MethodNotAllowed = ("method_not_allowed", 405),
    MissingCredentials = ("missing_credentials", 401),
    BodyMissingField = ("missing_field", 400),
    MissingField = ("missing_field", 422),
    MissingSession = ("missing_session", 401),
    NotSignedIn = ("not_signed_in", 401),
    NotAMember = ("not_a_member", 403),
    NotAPayoutLink = ("not_a_payout_link", 409),
    OperatorApiDisabled = ("operator_api_disabled", 401),
    PayoutLinkCanceled = ("payout_link_canceled", 410),
    PayoutLinkExpired = ("payout_link_expired", 410),
    PayoutLinkNotActive = ("payout_link_not_active", 409),
    PayoutLinkNotClaimable = ("payout_link_not_claimable", 409),
    PayoutLinkNotFound = ("payout_link_not_found", 404),
    PayoutMethodNotFound = ("payout_method_not_found", 404),
    PayoutMethodRequired = ("payout_method_required", 409),
    PayoutMethodTypeNotAllowed = ("payout_method_type_not_allowed", 422),
    PayoutNotResendable = ("payout_not_resendable", 409),
    PayoutReversalByRailOnly = ("payout_reversal_by_rail_only", 409),
    PayoutMethodAmbiguous = ("payout_method_required", 422),
    PhoneMismatch = ("phone_mismatch", 422),
    PhoneNotVerified = ("phone_not_verified", 409),
    PhoneNumberTaken = ("phone_number_taken", 409),
    RateLimited = ("rate_limited", 429),
    ResendTooSoon = ("resend_too_soon", 429),
    ResetLinkInvalid = ("reset_link_invalid", 404),
    RouteNotFound = ("route_not_found", 404),
    ServerBusy = ("server_busy", 503),
    ServiceUnavailable = ("service_unavailable", 503),
    SessionEnded = ("session_ended", 401),
    SessionExpired = ("session_expired", 401),
    SignInFailed = ("sign_in_failed", 401),
    SmsFailed = ("sms_failed", 503),
    StringTooLong = ("string_too_long", 422),
    TooManyAttempts = ("too_many_attempts", 429),
    TooManyPayoutMethods = ("too_many_payout_methods", 409),
    TooManyWebhooks = ("too_many_webhooks", 409),
    TransactionNotFound = ("transaction_not_found", 404),
    TransferNotCancelable = ("transfer_not_cancelable", 409),
    TransferNotFlagged = ("transfer_not_flagged", 409),
    TransferNotReversible = ("transfer_not_reversible", 409),
    TransferNotFound = ("transfer_not_found", 404),
    TransferStatusChanged = ("transfer_status_changed", 409),
    TwoFactorAlreadyOn = ("two_factor_already_on", 409),
    TwoFactorCodeRequired = ("two_factor_code_required", 401),
    TwoFactorSetupRequired = ("two_factor_setup_required", 403),
    UnknownField = ("unknown_field", 400),
    UnknownParameter = ("unknown_parameter", 400),
    UnsupportedMediaType = ("unsupported_media_type", 415),
    UserNotFound = ("user_not_found", 404),
    VerificationNotStarted = ("verification_not_started", 409),
    WeakPassword = ("weak_password", 422),
    WebhookNotFound = ("webhook_not_found", 404),
    WebhookUrlNotAllowed = ("webhook_url_not_allowed", 422),
    WidgetNotBuilt = ("widget_not_built", 404),
    WidgetVersionGone = ("widget_version_gone", 404),
}

impl ErrorCode {
    /// The error's `type`, which follows from its status.
    pub const fn kind(self) -> &'static str {
        match self.status() {
            401 => "authentication",
            403 => "permission",
            404 => "not_found",
            409 => "conflict",
            429 => "rate_limited",
            503 => "unavailable",
            500..=599 => "internal",
            _ => "invalid_request",
        }
    }

    /// The first variant with this wire string (`None` for a code this build does
    /// not know, such as one a newer server added).
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The refusals of a flow API session (its Bearer token).
    pub const FLOW_SESSION: [ErrorCode; 4] =
        [ErrorCode::MissingSession, ErrorCode::InvalidSession, ErrorCode::SessionExpired, ErrorCode::SessionEnded];

    /// A session of the flow API (a Bearer token) is what was refused, so the
    /// challenge is a Bearer one.
    pub const fn is_flow_session(self) -> bool {
        let mut i = 0;
        while i < ErrorCode::FLOW_SESSION.len() {
            if ErrorCode::FLOW_SESSION[i] as usize == self as usize {
                return true;
            }
            i += 1;
        }
        false
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_with_a_real_status() {
        for code in ErrorCode::ALL {
            let wire = code.as_str();
            assert!(!wire.is_empty() && wire.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{wire}");
            assert!((400..600).contains(&code.status()), "{wire}");
        }
    }

    #[test]
    fn a_wire_string_names_one_status_per_variant_and_reads_back() {
        for code in ErrorCode::ALL {
            let back = ErrorCode::from_wire(code.as_str()).expect("known");
            assert_eq!(back.as_str(), code.as_str());
        }
        assert_eq!(ErrorCode::from_wire("no_such_code"), None);
    }
}
