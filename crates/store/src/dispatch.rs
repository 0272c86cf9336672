//! `store_trait!`: declares each store trait once and derives [`AnyStore`](crate::AnyStore)'s
//! forwarding to the backend in use, and [`Counted`](crate::Counted)'s counting forwarding,
//! from that same declaration, so neither can drift from the trait.

/// Declares a store trait from `async fn name(&self, arg: Type, ...) -> Result<T>;`
/// signatures (each method returns a `Send` future) and implements it for [`AnyStore`] by
/// forwarding every method to the backend in use, and for [`Counted`] by counting each call
/// before forwarding it. The trait's documentation and each method's pass through unchanged.
macro_rules! store_trait {
    (
        $(#[$trait_attr:meta])*
        pub trait $trait:ident {
            $(
                $(#[$attr:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)*) -> Result<$ret:ty>;
            )*
        }
    ) => {
        $(#[$trait_attr])*
        pub trait $trait: Send + Sync + 'static {
            $(
                $(#[$attr])*
                fn $method(
                    &self $(, $arg: $ty)*
                ) -> impl ::std::future::Future<Output = $crate::Result<$ret>> + Send;
            )*
        }

        impl $trait for $crate::AnyStore {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $crate::Result<$ret> {
                    match self {
                        Self::Postgres(store) => store.$method($($arg),*).await,
                        Self::Sqlite(store) => store.$method($($arg),*).await,
                    }
                }
            )*
        }

        impl<S: $trait> $trait for $crate::Counted<S> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $crate::Result<$ret> {
                    self.calls.count(stringify!($method));
                    self.inner.$method($($arg),*).await
                }
            )*
        }
    };
}

pub(crate) use store_trait;
