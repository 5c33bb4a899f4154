//! proptest strategies for types that cannot derive `Arbitrary`.

use proptest::prelude::*;

use crate::{MessageKind, NodeId};

pub(crate) fn uuid() -> impl Strategy<Value = uuid::Uuid> {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}

pub(crate) fn opt_kind_str() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        proptest::sample::select(MessageKind::ALL).prop_map(|k| k.as_str().to_owned()),
    )
}

impl Arbitrary for NodeId {
    type Parameters = ();
    type Strategy = BoxedStrategy<NodeId>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        "[A-Za-z0-9._-]{1,64}"
            .prop_filter_map("reserved", |s| NodeId::parse(s).ok())
            .boxed()
    }
}
