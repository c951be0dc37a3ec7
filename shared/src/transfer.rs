//! The transfer state machine: statuses, types and the allowed transitions.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Created,
    Flagged,
    Pending,
    Completed,
    Failed,
    Reversed,
    Canceled,
}

impl TransferStatus {
    pub const ALL: [TransferStatus; 7] = [
        TransferStatus::Created,
        TransferStatus::Flagged,
        TransferStatus::Pending,
        TransferStatus::Completed,
        TransferStatus::Failed,
        TransferStatus::Reversed,
        TransferStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Created => "created",
            TransferStatus::Flagged => "flagged",
            TransferStatus::Pending => "pending",
            TransferStatus::Completed => "completed",
            TransferStatus::Failed => "failed",
            TransferStatus::Reversed => "reversed",
            TransferStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<TransferStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The fixed set of allowed transitions. `pending → canceled` is allowed so a
    /// payout not yet taken by its rail can still be called back (Foundation issue).
    pub fn can_become(self, to: TransferStatus) -> bool {
        use TransferStatus::*;
        matches!(
            (self, to),
            (Created, Pending | Flagged | Canceled | Failed)
                | (Flagged, Pending | Canceled)
                | (Pending, Completed | Failed | Canceled)
                | (Completed, Reversed)
        )
    }

    /// Funds of a payout in one of these statuses are reserved, not yet gone.
    pub fn holds_reservation(self) -> bool {
        matches!(self, TransferStatus::Created | TransferStatus::Flagged | TransferStatus::Pending)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferType {
    /// App wallet ↔ user wallet.
    Balance,
    /// User wallet → the payee's external account.
    Payout,
    /// External source → app wallet.
    Refill,
}

impl TransferType {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferType::Balance => "balance",
            TransferType::Payout => "payout",
            TransferType::Refill => "refill",
        }
    }

    pub fn parse(s: &str) -> Option<TransferType> {
        [TransferType::Balance, TransferType::Payout, TransferType::Refill].into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    AppToUser,
    UserToApp,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::AppToUser => "app_to_user",
            Direction::UserToApp => "user_to_app",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        [Direction::AppToUser, Direction::UserToApp].into_iter().find(|d| d.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::TransferStatus::*;
    use super::*;

    #[test]
    fn transitions_follow_the_design() {
        let allowed: Vec<(TransferStatus, TransferStatus)> = TransferStatus::ALL
            .into_iter()
            .flat_map(|a| TransferStatus::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Created, Flagged),
                (Created, Pending),
                (Created, Failed),
                (Created, Canceled),
                (Flagged, Pending),
                (Flagged, Canceled),
                (Pending, Completed),
                (Pending, Failed),
                (Pending, Canceled),
                (Completed, Reversed),
            ]
        );
    }

    #[test]
    fn terminal_statuses_go_nowhere() {
        for end in [Failed, Reversed, Canceled] {
            assert!(TransferStatus::ALL.into_iter().all(|to| !end.can_become(to)));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in TransferStatus::ALL {
            assert_eq!(TransferStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
