//! Conversions between protocol enums and aide-core's domain enums.
//!
//! Protocol enums have an `UNSPECIFIED` zero value that the domain has no room for, so
//! the protocol → domain direction is fallible ([`UnknownEnum`]), or maps to `None` where
//! the domain value is optional.

use aide_core::{Action, Direction, NodeStage};

use crate::v1;

/// A protocol enum value with no domain meaning (unspecified or from a newer peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnum {
    /// The enum's protocol name.
    pub kind: &'static str,
    /// The raw value received.
    pub value: i32,
}

impl std::fmt::Display for UnknownEnum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown or unspecified {} value {}",
            self.kind, self.value
        )
    }
}

impl std::error::Error for UnknownEnum {}

impl From<Direction> for v1::MetricDirection {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Minimize => Self::Minimize,
            Direction::Maximize => Self::Maximize,
        }
    }
}

impl v1::MetricDirection {
    /// The domain direction; `None` for unspecified (not yet fixed).
    pub fn to_domain(self) -> Option<Direction> {
        match self {
            Self::Unspecified => None,
            Self::Minimize => Some(Direction::Minimize),
            Self::Maximize => Some(Direction::Maximize),
        }
    }
}

impl From<Action> for v1::ActionKind {
    fn from(a: Action) -> Self {
        match a {
            Action::Draft => Self::Draft,
            Action::Improve => Self::Improve,
            Action::Debug => Self::Debug,
            Action::Merge => Self::Merge,
        }
    }
}

impl TryFrom<v1::ActionKind> for Action {
    type Error = UnknownEnum;
    fn try_from(kind: v1::ActionKind) -> Result<Self, Self::Error> {
        match kind {
            v1::ActionKind::Draft => Ok(Self::Draft),
            v1::ActionKind::Improve => Ok(Self::Improve),
            v1::ActionKind::Debug => Ok(Self::Debug),
            v1::ActionKind::Merge => Ok(Self::Merge),
            other => Err(UnknownEnum {
                kind: "ActionKind",
                value: other as i32,
            }),
        }
    }
}

impl From<NodeStage> for v1::NodeStage {
    fn from(s: NodeStage) -> Self {
        match s {
            NodeStage::Pending => Self::Pending,
            NodeStage::Generated => Self::Generated,
            NodeStage::Executed => Self::Executed,
            NodeStage::Reviewed => Self::Reviewed,
        }
    }
}

impl TryFrom<v1::NodeStage> for NodeStage {
    type Error = UnknownEnum;
    fn try_from(stage: v1::NodeStage) -> Result<Self, Self::Error> {
        match stage {
            v1::NodeStage::Pending => Ok(Self::Pending),
            v1::NodeStage::Generated => Ok(Self::Generated),
            v1::NodeStage::Executed => Ok(Self::Executed),
            v1::NodeStage::Reviewed => Ok(Self::Reviewed),
            v1::NodeStage::Unspecified => Err(UnknownEnum {
                kind: "NodeStage",
                value: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_unspecified_is_refused() {
        for d in [Direction::Minimize, Direction::Maximize] {
            assert_eq!(v1::MetricDirection::from(d).to_domain(), Some(d));
        }
        assert_eq!(v1::MetricDirection::Unspecified.to_domain(), None);
        for a in [Action::Draft, Action::Improve, Action::Debug] {
            assert_eq!(Action::try_from(v1::ActionKind::from(a)), Ok(a));
        }
        assert!(Action::try_from(v1::ActionKind::Review).is_err());
        for s in [
            NodeStage::Pending,
            NodeStage::Generated,
            NodeStage::Executed,
            NodeStage::Reviewed,
        ] {
            assert_eq!(NodeStage::try_from(v1::NodeStage::from(s)), Ok(s));
        }
        let err = NodeStage::try_from(v1::NodeStage::Unspecified).expect_err("unspecified");
        assert!(err.to_string().contains("NodeStage"));
    }
}
